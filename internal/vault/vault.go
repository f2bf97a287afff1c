// Package vault seals the contact data of affected people at rest and keeps
// the keyed hash (blind index) that finds them again without opening them
// (DESIGN.md, "Personal data protection inside the engine").
//
// Keys. The vault reads the same key spec as the payload codec, from
// BREACH_DATA_KEY: one or more 32-byte keys with IDs, the first one current.
// From each key it derives, with HKDF-SHA256 under fixed labels, two keys of
// its own: an AES-256-GCM key that seals column values, and an HMAC-SHA256 key
// for the blind index. The raw key is never used directly, so a sealed value
// and an index never share key material.
//
// Sealing. Each value is sealed as nonce (12 random bytes) || ciphertext ||
// tag, with the additional data incident ID (16 bytes) || email index (32
// bytes) || column name: a sealed value copied to another person, another
// incident or another column fails to open. The row's key_id column names the
// key that sealed it. Email, name and phone are sealed together as one
// contact record (contact.go); rows loaded before it have them in columns of
// their own, which still open.
//
// Blind index. The index is HMAC-SHA256 of the normalised email (local part
// as written, domain in lower-case ASCII IDNA form) under the index key of the
// key that sealed the row. It is what de-duplicates an import and what
// RecipientByEmail looks up. Without the data key it cannot be computed, so a
// copy of the table does not tell whether a given address is in it.
//
// Rotation. Putting a new key first in BREACH_DATA_KEY (keeping the old ones
// after it) makes new rows sealed AND indexed under the new key; existing rows
// keep their key_id, their ciphertext and their index, and stay readable as
// long as their key is in the ring. Because the index key is derived from the
// data key, the same email has a different index under each key: look-ups
// compute the index under every key of the ring (Indexes) and an import
// de-duplicates against older rows through their key's index (OtherIndexes),
// so nobody is loaded twice across a rotation. Dropping a key from the ring
// makes its rows unreadable and unfindable: purge them, or re-seal them under
// the new key, before removing it.
//
// Incident keys (incident.go). Since migration 011 each incident's people are
// sealed and indexed under a data key of their own, stored only wrapped by
// the ring (envelope encryption), so that destroying that one key destroys
// the incident's contact data everywhere it was copied (crypto-shredding,
// GDPR Art. 5(1)(e) and 17). The rows say so with key_id IncidentKeyID.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/google/uuid"

	"github.com/breach-engine/breach/internal/codec"
)

// Column names a sealed column of the people table; it is part of the
// additional data, so a value sealed for one column does not open as another.
type Column string

// The sealed columns.
const (
	Email     Column = "email"
	FullName  Column = "full_name"
	Phone     Column = "phone"
	AccountID Column = "account_id"
)

// Labels of the HKDF derivations: changing one changes every key derived
// under it, so they are fixed for the life of the data.
const (
	sealLabel  = "breach/vault/seal/v1"
	indexLabel = "breach/vault/email-index/v1"
	wrapLabel  = "breach/vault/incident-key-wrap/v1"
)

const (
	// IndexSize is the size of a blind index (HMAC-SHA256).
	IndexSize = sha256.Size
	nonceSize = 12
	tagSize   = 16
	// Overhead is what sealing adds to a value: nonce and tag.
	Overhead = nonceSize + tagSize
)

type key struct {
	aead  cipher.AEAD
	index []byte      // HMAC key
	wrap  cipher.AEAD // wraps incident keys; nil for an incident key
	// gone, for IncidentKeyID only: why the incident's rows cannot be
	// opened (ErrKeyDestroyed, ErrNoIncidentKey); aead and index are nil.
	gone error
}

// Vault seals and opens contact data and computes blind indexes. It is safe
// for concurrent use; a Sealer is its single-goroutine fast path.
type Vault struct {
	current string
	ids     []string // current first
	keys    map[string]*key
}

// New builds a vault over a key ring (codec.ParseKeys).
func New(ring *codec.KeyRing) (*Vault, error) {
	if ring == nil {
		return nil, errors.New("vault: no key ring")
	}
	v := &Vault{current: ring.Current(), ids: ring.IDs(), keys: map[string]*key{}}
	for _, id := range v.ids {
		sk, err := ring.Derive(id, sealLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		ik, err := ring.Derive(id, indexLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		wk, err := ring.Derive(id, wrapLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		aead, err := newGCM(sk)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		wrap, err := newGCM(wk)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		v.keys[id] = &key{aead: aead, index: ik, wrap: wrap}
	}
	return v, nil
}

func newGCM(k []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// FromSpec parses a key spec (the format of BREACH_DATA_KEY) into a vault.
// Errors never quote the spec.
func FromSpec(spec string) (*Vault, error) {
	ring, err := codec.ParseKeys(spec)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return New(ring)
}

// KeyID is the ID of the key new rows are sealed and indexed with.
func (v *Vault) KeyID() string { return v.current }

// KeyIDs lists the key IDs, the current one first.
func (v *Vault) KeyIDs() []string { return append([]string(nil), v.ids...) }

// Index is the blind index of a normalised email under the current key.
func (v *Vault) Index(email string) []byte {
	return indexWith(v.keys[v.current].index, email)
}

// KeyedIndex is a blind index and the key it was computed under.
type KeyedIndex struct {
	KeyID string
	Index []byte
}

// Indexes is the blind index of a normalised email under every key of the
// ring, the current one first: what a look-up must try after a rotation.
func (v *Vault) Indexes(email string) []KeyedIndex {
	out := make([]KeyedIndex, len(v.ids))
	for i, id := range v.ids {
		out[i] = KeyedIndex{KeyID: id, Index: indexWith(v.keys[id].index, email)}
	}
	return out
}

func indexWith(k []byte, email string) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(email))
	return m.Sum(nil)
}

// additionalData is incident || index || column: the first two have fixed
// sizes, so the encoding is unambiguous.
func additionalData(dst []byte, incident uuid.UUID, index []byte, col Column) []byte {
	dst = append(dst[:0], incident[:]...)
	dst = append(dst, index...)
	return append(dst, col...)
}

// Seal seals a value of column col for the person with this blind index in
// this incident, under the current key.
func (v *Vault) Seal(incident uuid.UUID, index []byte, col Column, plain []byte) []byte {
	nonce := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	_, _ = rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
	ad := additionalData(nil, incident, index, col)
	return v.keys[v.current].aead.Seal(nonce, nonce, plain, ad)
}

// ErrUnknownKey is returned when a row names a key that is not in the ring.
var ErrUnknownKey = errors.New("vault: unknown key id")

// Open opens a value sealed by Seal under keyID. The error names the column
// and the key, never the value.
func (v *Vault) Open(keyID string, incident uuid.UUID, index []byte, col Column, sealed []byte) ([]byte, error) {
	return v.open(additionalData(nil, incident, index, col), keyID, col, sealed)
}

func (v *Vault) open(ad []byte, keyID string, col Column, sealed []byte) ([]byte, error) {
	k, ok := v.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q (column %s)", ErrUnknownKey, keyID, col)
	}
	if k.gone != nil {
		return nil, fmt.Errorf("vault: open %s: %w", col, k.gone)
	}
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("vault: open %s: sealed value too short", col)
	}
	plain, err := k.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, fmt.Errorf("vault: open %s with key %q: %w", col, keyID, err)
	}
	return plain, nil
}

// Sealer is the import's fast path: it seals for one incident under the
// current key, reusing its HMAC state and buffers and drawing nonces from a
// block of random bytes. Its Append methods write into a buffer the caller
// owns, so that an import can keep a whole batch's indexes and sealed values
// in one allocation (the garbage collector's work grows with the number of
// objects, not their bytes). One Sealer per goroutine.
type Sealer struct {
	v        *Vault
	incident uuid.UUID
	aead     cipher.AEAD
	mac      hash.Hash
	others   []hash.Hash // index MACs of the older keys
	ad       []byte
	msg      []byte // the email being indexed: hash.Hash takes bytes
	rnd      []byte
	pos      int
}

// Sealer returns a Sealer for one incident.
func (v *Vault) Sealer(incident uuid.UUID) *Sealer {
	s := &Sealer{v: v, incident: incident, aead: v.keys[v.current].aead,
		mac: hmac.New(sha256.New, v.keys[v.current].index), rnd: make([]byte, 4096)}
	s.pos = len(s.rnd)
	for _, id := range v.ids[1:] {
		s.others = append(s.others, hmac.New(sha256.New, v.keys[id].index))
	}
	return s
}

// KeyID is the key the Sealer seals with.
func (s *Sealer) KeyID() string { return s.v.current }

// Index is Vault.Index.
func (s *Sealer) Index(email string) []byte {
	return s.AppendIndex(make([]byte, 0, IndexSize), email)
}

// AppendIndex appends the blind index of email under the current key
// (IndexSize bytes) to dst.
func (s *Sealer) AppendIndex(dst []byte, email string) []byte {
	return s.appendMAC(dst, s.mac, email)
}

func (s *Sealer) appendMAC(dst []byte, m hash.Hash, email string) []byte {
	// Copied rather than converted: a conversion passed to an interface
	// method escapes, one allocation per row.
	s.msg = append(s.msg[:0], email...)
	m.Reset()
	m.Write(s.msg)
	return m.Sum(dst)
}

// Others is how many older keys the ring holds: the number of indexes
// AppendOtherIndexes appends.
func (s *Sealer) Others() int { return len(s.others) }

// OtherIndexes is the index of email under each older key of the ring (nil
// when the ring holds one key): an import de-duplicates against rows loaded
// before a rotation through them.
func (s *Sealer) OtherIndexes(email string) [][]byte {
	if len(s.others) == 0 {
		return nil
	}
	out := make([][]byte, len(s.others))
	for i, m := range s.others {
		out[i] = s.appendMAC(make([]byte, 0, IndexSize), m, email)
	}
	return out
}

// AppendOtherIndexes appends the index of email under each older key of the
// ring (Others of them, IndexSize bytes each, in ring order) to dst.
func (s *Sealer) AppendOtherIndexes(dst []byte, email string) []byte {
	for _, m := range s.others {
		dst = s.appendMAC(dst, m, email)
	}
	return dst
}

// Seal is Vault.Seal for the Sealer's incident.
func (s *Sealer) Seal(index []byte, col Column, plain string) []byte {
	return s.AppendSeal(nil, index, col, plain)
}

// SealedSize is the size of a sealed value of n bytes.
func SealedSize(n int) int { return n + Overhead }

// AppendSeal appends the sealed value (nonce || ciphertext || tag,
// SealedSize(len(plain)) bytes) to dst. With room enough in dst, it does not
// allocate: the plain text is copied after the nonce and sealed in place.
func (s *Sealer) AppendSeal(dst, index []byte, col Column, plain string) []byte {
	start := len(dst)
	dst = slices.Grow(dst, SealedSize(len(plain)))
	dst = s.appendNonce(dst)
	dst = append(dst, plain...)
	return s.sealInPlace(dst, start, index, col)
}

// appendNonce appends a fresh nonce, from the block of random bytes.
func (s *Sealer) appendNonce(dst []byte) []byte {
	if s.pos+nonceSize > len(s.rnd) {
		_, _ = rand.Read(s.rnd)
		s.pos = 0
	}
	dst = append(dst, s.rnd[s.pos:s.pos+nonceSize]...)
	s.pos += nonceSize
	return dst
}

// sealInPlace seals dst[start+nonceSize:], the plain text after the nonce at
// dst[start:], in place. The caller grew dst for the tag.
func (s *Sealer) sealInPlace(dst []byte, start int, index []byte, col Column) []byte {
	s.ad = additionalData(s.ad, s.incident, index, col)
	head := dst[:start+nonceSize]
	// The output starts exactly where the plain text is (in-place sealing,
	// which cipher.AEAD allows).
	return s.aead.Seal(head, head[start:], dst[start+nonceSize:], s.ad)
}

// Opener opens many values with reused buffers; one per goroutine.
type Opener struct {
	v  *Vault
	ad []byte
}

// Opener returns an Opener.
func (v *Vault) Opener() *Opener { return &Opener{v: v} }

// Open is Vault.Open.
func (o *Opener) Open(keyID string, incident uuid.UUID, index []byte, col Column, sealed []byte) ([]byte, error) {
	o.ad = additionalData(o.ad, incident, index, col)
	return o.v.open(o.ad, keyID, col, sealed)
}
