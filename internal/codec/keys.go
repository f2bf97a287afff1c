package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

// DefaultKeyID names the key of a spec that holds a bare key without an ID.
const DefaultKeyID = "default"

// maxKeyIDLen bounds a key ID: it is written into every encrypted payload.
const maxKeyIDLen = 64

// KeyRing holds the keys payloads may have been encrypted with, by ID, and the
// current one new payloads are encrypted with. Rotation adds a new current key
// and keeps the old ones for decryption until no history needs them.
type KeyRing struct {
	current string
	aeads   map[string]cipher.AEAD
	raw     map[string][]byte // for Derive only; never leaves the package
	order   []string
}

// NewKeyRing builds a key ring from raw keys; current must be one of them.
func NewKeyRing(current string, keys map[string][]byte) (*KeyRing, error) {
	r := &KeyRing{current: current, aeads: make(map[string]cipher.AEAD, len(keys)), raw: make(map[string][]byte, len(keys))}
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("codec: current key %q is not in the key ring", current)
	}
	var others []string
	for id := range keys {
		if id != current {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	r.order = append([]string{current}, others...)
	for _, id := range r.order {
		if err := r.add(id, keys[id]); err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
	}
	return r, nil
}

func (r *KeyRing) add(id string, key []byte) error {
	if err := validKeyID(id); err != nil {
		return err
	}
	if len(key) != KeySize {
		return fmt.Errorf("has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	r.aeads[id] = aead
	if r.raw == nil {
		r.raw = map[string][]byte{}
	}
	r.raw[id] = append([]byte(nil), key...)
	return nil
}

// ParseKeys reads a key spec, as found in BREACH_PAYLOAD_KEY: either the base64
// of 32 bytes (its ID is DefaultKeyID), or a comma-separated list of
// "keyid:base64" entries whose first entry is the current key. Standard and
// URL-safe base64 are accepted, with or without padding. Errors name the entry
// by its position, never its text: a misplaced key must not reach a log.
func ParseKeys(spec string) (*KeyRing, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("codec: empty key spec")
	}
	r := &KeyRing{aeads: map[string]cipher.AEAD{}, raw: map[string][]byte{}}
	if !strings.Contains(spec, ":") && !strings.Contains(spec, ",") {
		key, err := decodeKey(spec)
		if err != nil {
			return nil, fmt.Errorf("codec: key: %w", err)
		}
		if err := r.add(DefaultKeyID, key); err != nil {
			return nil, fmt.Errorf("codec: key: %w", err)
		}
		r.current, r.order = DefaultKeyID, []string{DefaultKeyID}
		return r, nil
	}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("codec: key entry %d: want keyid:base64", i+1)
		}
		id = strings.TrimSpace(id)
		if err := validKeyID(id); err != nil {
			return nil, fmt.Errorf("codec: key entry %d: %w", i+1, err)
		}
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("codec: key entry %d: key id already used by an earlier entry", i+1)
		}
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("codec: key entry %d: %w", i+1, err)
		}
		if err := r.add(id, key); err != nil {
			return nil, fmt.Errorf("codec: key entry %d: %w", i+1, err)
		}
		if i == 0 {
			r.current = id
		}
		r.order = append(r.order, id)
	}
	return r, nil
}

// Current is the ID of the key new payloads are encrypted with.
func (r *KeyRing) Current() string { return r.current }

// IDs lists the key IDs, the current one first.
func (r *KeyRing) IDs() []string { return append([]string(nil), r.order...) }

// Has reports whether the ring holds a key with this ID.
func (r *KeyRing) Has(id string) bool {
	_, ok := r.aeads[id]
	return ok
}

// Derive returns n bytes derived from the key id with HKDF-SHA256 (no salt,
// label as the info string). Subsystems that need a key of their own (the
// contact-data vault: a sealing key and a blind-index key) derive it under a
// fixed label, so the raw key never leaves the ring and two labels never
// share key material.
func (r *KeyRing) Derive(id, label string, n int) ([]byte, error) {
	raw, ok := r.raw[id]
	if !ok {
		return nil, fmt.Errorf("codec: derive: unknown key id %q", id)
	}
	if label == "" {
		return nil, errors.New("codec: derive: empty label")
	}
	return hkdf.Key(sha256.New, raw, nil, label, n)
}

func (r *KeyRing) aead(id string) (cipher.AEAD, bool) {
	a, ok := r.aeads[id]
	return a, ok
}

// NewKeySpec returns a fresh random key in the form ParseKeys reads (the bare
// base64 of 32 bytes). `breach dev` uses it when no key is configured.
func NewKeySpec() string {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	return base64.StdEncoding.EncodeToString(key)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("not valid base64")
}

func validKeyID(id string) error {
	if id == "" {
		return errors.New("empty key id")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("key id longer than %d characters", maxKeyIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("key id: only letters, digits, '-', '_' and '.' are allowed")
		}
	}
	return nil
}
