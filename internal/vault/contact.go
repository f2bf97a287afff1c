package vault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Contact records (migration 014, people.contact).
//
// Why. A person's email, name, phone and account ID were four sealed
// columns, each with its own nonce and tag (28 bytes) and its own AEAD pass:
// more than the data itself for a short name, and the bytes Postgres writes
// (heap, WAL, then again when the keys are built) were most of an import's
// cost. They are now one sealed record; the row says in clear only whether
// the person has an account (people.has_account), which the credential track
// selects on.
//
// Format. The plain text is a format byte (contactV1) then, for the email,
// the name, the phone and the account ID in that order, the length as a
// uvarint and the bytes. It is sealed like a column value (nonce ||
// ciphertext || tag), under the column name "contact" in the additional
// data, so a record does not open as a column value nor the other way round.

// Contact is the column of the sealed contact record.
const Contact Column = "contact"

// contactV1 is the first byte of a contact record's plain text.
const contactV1 = 1

// ContactData is what a contact record holds.
type ContactData struct {
	Email     string
	Name      string // "" when the file had none
	Phone     string // E.164, or ""
	AccountID string // the person's account at the identity provider, or ""
}

// values and fields list the record's fields in their order.
func (c ContactData) values() [4]string { return [4]string{c.Email, c.Name, c.Phone, c.AccountID} }
func (c *ContactData) fields() [4]*string {
	return [4]*string{&c.Email, &c.Name, &c.Phone, &c.AccountID}
}

// errMalformed: a record that opened (its tag is right) but does not decode.
// Only a bug can make one; the message quotes nothing of it.
var errMalformed = errors.New("vault: open contact: malformed record")

func (c ContactData) plainSize() int {
	n := 1
	for _, f := range c.values() {
		n += uvarintLen(len(f)) + len(f)
	}
	return n
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// SealedContactSize is the size of c's sealed record.
func SealedContactSize(c ContactData) int { return c.plainSize() + Overhead }

func appendContact(dst []byte, c ContactData) []byte {
	dst = append(dst, contactV1)
	for _, f := range c.values() {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

func parseContact(plain []byte) (ContactData, error) {
	var c ContactData
	if len(plain) == 0 || plain[0] != contactV1 {
		return c, errMalformed
	}
	p := plain[1:]
	for _, f := range c.fields() {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return ContactData{}, errMalformed
		}
		*f = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if len(p) != 0 {
		return ContactData{}, errMalformed
	}
	return c, nil
}

// SealContact seals c as one record for the person with this blind index in
// this incident, under the current key.
func (v *Vault) SealContact(incident uuid.UUID, index []byte, c ContactData) []byte {
	return v.Seal(incident, index, Contact, appendContact(nil, c))
}

// AppendSealContact appends c's sealed record (SealedContactSize(c) bytes)
// to dst, without allocating when dst has room: the plain text is written
// after the nonce and sealed in place.
func (s *Sealer) AppendSealContact(dst, index []byte, c ContactData) []byte {
	start := len(dst)
	dst = slices.Grow(dst, SealedContactSize(c))
	dst = s.appendNonce(dst)
	dst = appendContact(dst, c)
	return s.sealInPlace(dst, start, index, Contact)
}

// OpenContact opens a record sealed by SealContact under keyID. Errors name
// the key, never the data.
func (v *Vault) OpenContact(keyID string, incident uuid.UUID, index []byte, sealed []byte) (ContactData, error) {
	return v.Opener().OpenContact(keyID, incident, index, sealed)
}

// OpenContact is Vault.OpenContact with the Opener's buffers.
func (o *Opener) OpenContact(keyID string, incident uuid.UUID, index []byte, sealed []byte) (ContactData, error) {
	plain, err := o.Open(keyID, incident, index, Contact, sealed)
	if err != nil {
		return ContactData{}, err
	}
	c, err := parseContact(plain)
	if err != nil {
		return c, fmt.Errorf("%w (key %q)", err, keyID)
	}
	return c, nil
}
