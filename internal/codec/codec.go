// Package codec encrypts Temporal payloads so that what workflows carry never
// sits in clear in the Temporal server's history: AES-256-GCM with a random
// nonce per payload, the key ID in the payload metadata so keys can rotate.
// It also serves the Temporal codec server protocol, so that authenticated
// users of the Temporal UI and CLI can read histories.
package codec

import (
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata written on encrypted payloads.
const (
	// EncodingEncrypted is the "encoding" metadata of an encrypted payload;
	// Decode passes payloads without it through unchanged.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key a payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher, for whoever reads a raw history.
	MetadataCipher = "encryption-cipher"
	// CipherAES256GCM is the only cipher written so far.
	CipherAES256GCM = "AES256-GCM"
)

// Codec is a converter.PayloadCodec that encrypts every payload with the key
// ring's current key and decrypts with whichever key a payload names.
type Codec struct {
	keys *KeyRing
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over a key ring.
func New(keys *KeyRing) *Codec { return &Codec{keys: keys} }

// FromSpec parses a key spec (see ParseKeys) and returns a codec over it.
func FromSpec(spec string) (*Codec, error) {
	keys, err := ParseKeys(spec)
	if err != nil {
		return nil, err
	}
	return New(keys), nil
}

// Keys is the codec's key ring.
func (c *Codec) Keys() *KeyRing { return c.keys }

// NewDataConverter wraps the SDK's default data converter with the codec:
// values are serialised as usual, then encrypted.
func NewDataConverter(c converter.PayloadCodec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode encrypts each payload (metadata and data together) with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.keys.Current()
	aead, ok := c.keys.aead(id)
	if !ok {
		return nil, fmt.Errorf("codec: current key %q missing from the key ring", id)
	}
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		_, _ = rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
		sealed := aead.Seal(nonce, nonce, plain, []byte(id))
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(id),
				MetadataCipher:             []byte(CipherAES256GCM),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode decrypts the encrypted payloads and passes the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		if cph, ok := p.GetMetadata()[MetadataCipher]; ok && string(cph) != CipherAES256GCM {
			return nil, fmt.Errorf("codec: payload %d: unsupported cipher %q", i, cph)
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys.aead(id)
		if !ok {
			return nil, fmt.Errorf("codec: payload %d: unknown key id %q", i, id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: payload %d: ciphertext too short", i)
		}
		nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload %d: decrypt with key %q: %w", i, id, err)
		}
		dec := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, dec); err != nil {
			return nil, fmt.Errorf("codec: payload %d: unmarshal decrypted payload: %w", i, err)
		}
		out[i] = dec
	}
	return out, nil
}
