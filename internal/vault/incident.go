package vault

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Incident keys: envelope encryption of each incident's contact data.
//
// Why. Contact data sealed under the global ring can only be destroyed by
// deleting every copy of every row, and backups keep copies. GDPR
// Art. 5(1)(e) (storage limitation) wants the affected people's data kept no
// longer than needed: once an incident is closed and its retention period
// over, the engine destroys one small secret instead, the incident's data
// key, and every copy of the rows it sealed, backups included, becomes noise
// (crypto-shredding). The blind index is keyed from it too, so the index
// stops telling whether an address was in the incident.
//
// How. NewIncidentKey draws 32 random bytes and wraps them with AES-256-GCM
// under a wrapping key derived (HKDF, its own label) from the ring's current
// key; the wrapped form is all that is stored, with the ID of the ring key
// that wrapped it (WrappedKey). Its additional data names the incident: a
// wrapped key copied to another incident does not unwrap. ForIncident
// unwraps it and returns a Vault whose current key is the incident key (rows
// sealed by it carry key_id IncidentKeyID), the ring's keys following it so
// that rows sealed before incident keys existed still open and are still
// found by their index. Rewrap re-wraps under the ring's current key: after
// every live incident key is re-wrapped, an old ring key can leave the ring,
// and the wrapped copies of destroyed incident keys that older backups still
// hold can no longer be unwrapped by anyone.
//
// Destroyed. Once destroyed (the purge), the store hands out Destroyed(): a
// Vault that opens the ring's rows as before and refuses the incident key's
// rows with ErrKeyDestroyed, never a panic.

// IncidentKeyID is the key_id of rows sealed under their incident's own key.
// Ring key IDs are letters, digits, '-', '_' and '.', so it never names one.
const IncidentKeyID = "@incident"

// incidentKeyAD prefixes the additional data of a wrapped incident key.
const incidentKeyAD = "breach/vault/incident-key/v1"

// WrappedKey is an incident's data key as stored: sealed (nonce || ciphertext
// || tag) under the wrapping key derived from the ring key KeyID.
type WrappedKey struct {
	KeyID  string
	Sealed []byte
}

var (
	// ErrKeyDestroyed: the incident's data key was destroyed by the purge;
	// what it sealed cannot be opened any more, by design.
	ErrKeyDestroyed = errors.New("vault: the incident's data key was destroyed (contact data purged)")
	// ErrNoIncidentKey: a row says it was sealed under its incident's key,
	// and the incident has none.
	ErrNoIncidentKey = errors.New("vault: the incident has no data key")
)

// incidentKeySize is the size of an incident's data key (AES-256).
const incidentKeySize = 32

func wrapAD(incident uuid.UUID) []byte {
	return append([]byte(incidentKeyAD), incident[:]...)
}

// NewIncidentKey draws a new data key for the incident and returns it wrapped
// under the ring's current key. The clear key never leaves the vault.
func (v *Vault) NewIncidentKey(incident uuid.UUID) (WrappedKey, error) {
	raw := make([]byte, incidentKeySize)
	_, _ = rand.Read(raw) // never fails (crypto/rand, Go 1.24+)
	return v.wrap(incident, raw)
}

// WrapKeyID is the ring key new incident keys are wrapped under: the ring's
// current key (also for a Vault returned by ForIncident).
func (v *Vault) WrapKeyID() string {
	for _, id := range v.ids {
		if v.keys[id].wrap != nil {
			return id
		}
	}
	return ""
}

func (v *Vault) wrap(incident uuid.UUID, raw []byte) (WrappedKey, error) {
	id := v.WrapKeyID()
	if id == "" {
		return WrappedKey{}, errors.New("vault: wrap incident key: no ring key")
	}
	nonce := make([]byte, nonceSize, nonceSize+len(raw)+tagSize)
	_, _ = rand.Read(nonce)
	return WrappedKey{KeyID: id, Sealed: v.keys[id].wrap.Seal(nonce, nonce, raw, wrapAD(incident))}, nil
}

func (v *Vault) unwrap(incident uuid.UUID, w WrappedKey) ([]byte, error) {
	k, ok := v.keys[w.KeyID]
	if !ok || k.wrap == nil {
		return nil, fmt.Errorf("vault: unwrap incident key: %w %q", ErrUnknownKey, w.KeyID)
	}
	if len(w.Sealed) != nonceSize+incidentKeySize+tagSize {
		return nil, errors.New("vault: unwrap incident key: wrapped key has the wrong size")
	}
	raw, err := k.wrap.Open(nil, w.Sealed[:nonceSize], w.Sealed[nonceSize:], wrapAD(incident))
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap incident key with key %q: %w", w.KeyID, err)
	}
	return raw, nil
}

// Rewrap re-wraps an incident key under the ring's current key (rotation of
// BREACH_DATA_KEY). A key already wrapped under it is returned as is.
func (v *Vault) Rewrap(incident uuid.UUID, w WrappedKey) (WrappedKey, error) {
	if w.KeyID == v.WrapKeyID() {
		return w, nil
	}
	raw, err := v.unwrap(incident, w)
	if err != nil {
		return WrappedKey{}, err
	}
	return v.wrap(incident, raw)
}

// ForIncident unwraps the incident's key and returns the Vault for its
// people: Seal, Sealer and Index use the incident key (KeyID is
// IncidentKeyID); Open and Indexes also know the ring's keys, for rows sealed
// before the incident had a key of its own; Sealer.OtherIndexes gives the
// ring's indexes, so an import de-duplicates against those rows. Only for
// this incident: the additional data binds every value to it anyway.
func (v *Vault) ForIncident(incident uuid.UUID, w WrappedKey) (*Vault, error) {
	raw, err := v.unwrap(incident, w)
	if err != nil {
		return nil, err
	}
	sk, err := hkdf.Key(sha256.New, raw, nil, sealLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("vault: incident key: %w", err)
	}
	ik, err := hkdf.Key(sha256.New, raw, nil, indexLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("vault: incident key: %w", err)
	}
	aead, err := newGCM(sk)
	if err != nil {
		return nil, fmt.Errorf("vault: incident key: %w", err)
	}
	out := v.ring()
	out.current = IncidentKeyID
	out.ids = append([]string{IncidentKeyID}, out.ids...)
	out.keys[IncidentKeyID] = &key{aead: aead, index: ik}
	return out, nil
}

// Destroyed is the Vault of an incident whose key was destroyed: rows sealed
// under the ring still open (until purged, they are NULL after it), rows
// sealed under the incident key fail with ErrKeyDestroyed. It can seal only
// under the ring: the store never seals for such an incident (it is closed).
func (v *Vault) Destroyed() *Vault { return v.without(ErrKeyDestroyed) }

// WithoutIncidentKey is the Vault of an incident that never had a key of its
// own (its people, if any, were sealed under the ring): a row claiming the
// incident key fails with ErrNoIncidentKey.
func (v *Vault) WithoutIncidentKey() *Vault { return v.without(ErrNoIncidentKey) }

func (v *Vault) without(why error) *Vault {
	out := v.ring()
	out.keys[IncidentKeyID] = &key{gone: why}
	return out
}

// ring copies the ring part of v: its own ring keys, without an incident key.
func (v *Vault) ring() *Vault {
	out := &Vault{keys: map[string]*key{}}
	for _, id := range v.ids {
		if id == IncidentKeyID {
			continue
		}
		out.ids = append(out.ids, id)
		out.keys[id] = v.keys[id]
	}
	out.current = out.ids[0]
	return out
}
