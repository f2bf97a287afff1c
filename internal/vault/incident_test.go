package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestIncidentKeyWrapUnwrap(t *testing.T) {
	ring := mustVault(t, spec("k1", 1))
	w, err := ring.NewIncidentKey(inc1)
	if err != nil {
		t.Fatal(err)
	}
	if w.KeyID != "k1" || len(w.Sealed) != nonceSize+incidentKeySize+tagSize {
		t.Fatalf("wrapped key %q, %d bytes", w.KeyID, len(w.Sealed))
	}
	iv, err := ring.ForIncident(inc1, w)
	if err != nil {
		t.Fatal(err)
	}
	if iv.KeyID() != IncidentKeyID || strings.Join(iv.KeyIDs(), ",") != IncidentKeyID+",k1" || iv.WrapKeyID() != "k1" {
		t.Fatalf("incident vault keys %q %v", iv.KeyID(), iv.KeyIDs())
	}
	idx := iv.Index("a@example.org")
	if bytes.Equal(idx, ring.Index("a@example.org")) {
		t.Fatal("the blind index is keyed by the ring, not by the incident key")
	}
	sealed := iv.Sealer(inc1).Seal(idx, Email, "a@example.org")
	// The same wrapped key unwrapped again (another process) opens it.
	again, err := ring.ForIncident(inc1, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(IncidentKeyID, inc1, idx, Email, sealed); err != nil || string(got) != "a@example.org" {
		t.Fatalf("open: %q %v", got, err)
	}
	if !bytes.Equal(again.Index("a@example.org"), idx) {
		t.Fatal("index differs across unwraps")
	}
	// The ring alone cannot open it: the value is under the incident key.
	if _, err := ring.Open(IncidentKeyID, inc1, idx, Email, sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("ring opened an incident-key row: %v", err)
	}
	// Another incident's key does not open it, and a wrapped key does not
	// unwrap for another incident.
	w2, _ := ring.NewIncidentKey(inc2)
	other, err := ring.ForIncident(inc2, w2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(IncidentKeyID, inc1, idx, Email, sealed); err == nil {
		t.Fatal("another incident's key opened the value")
	}
	if _, err := ring.ForIncident(inc2, w); err == nil {
		t.Fatal("a wrapped key unwrapped for another incident")
	}
	tampered := WrappedKey{KeyID: w.KeyID, Sealed: append([]byte(nil), w.Sealed...)}
	tampered.Sealed[20] ^= 1
	if _, err := ring.ForIncident(inc1, tampered); err == nil {
		t.Fatal("a tampered wrapped key unwrapped")
	}
	if _, err := mustVault(t, spec("k1", 9)).ForIncident(inc1, w); err == nil {
		t.Fatal("another master key unwrapped the key")
	}
	if _, err := ring.ForIncident(inc1, WrappedKey{KeyID: "k1", Sealed: w.Sealed[:10]}); err == nil {
		t.Fatal("a truncated wrapped key unwrapped")
	}
}

// TestIncidentVaultOpensRingRows: rows sealed under the ring before the
// incident had a key stay readable and findable through the incident's vault.
func TestIncidentVaultOpensRingRows(t *testing.T) {
	ring := mustVault(t, spec("k1", 1))
	legacyIdx := ring.Index("old@example.org")
	legacy := ring.Seal(inc1, legacyIdx, FullName, []byte("Ancien Dupont"))
	w, _ := ring.NewIncidentKey(inc1)
	iv, err := ring.ForIncident(inc1, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := iv.Open("k1", inc1, legacyIdx, FullName, legacy); err != nil || string(got) != "Ancien Dupont" {
		t.Fatalf("legacy row: %q %v", got, err)
	}
	idxs := iv.Indexes("old@example.org")
	if len(idxs) != 2 || idxs[0].KeyID != IncidentKeyID || idxs[1].KeyID != "k1" || !bytes.Equal(idxs[1].Index, legacyIdx) {
		t.Fatalf("indexes %+v", idxs)
	}
	others := iv.Sealer(inc1).OtherIndexes("old@example.org")
	if len(others) != 1 || !bytes.Equal(others[0], legacyIdx) {
		t.Fatal("an import would not see the legacy row as a duplicate")
	}
}

// TestIncidentKeyRotationRewraps: rotating the master re-wraps incident keys;
// once re-wrapped, the old master can leave the ring and the data still
// opens, while a copy of the key wrapped under the old master (a backup)
// cannot be unwrapped without it.
func TestIncidentKeyRotationRewraps(t *testing.T) {
	old := mustVault(t, spec("2025", 1))
	w, _ := old.NewIncidentKey(inc1)
	iv, _ := old.ForIncident(inc1, w)
	idx := iv.Index("a@example.org")
	sealed := iv.Seal(inc1, idx, Email, []byte("a@example.org"))

	rotated := mustVault(t, spec("2026", 2)+","+spec("2025", 1))
	if _, err := rotated.ForIncident(inc1, w); err != nil {
		t.Fatalf("old wrapping after rotation: %v", err)
	}
	nw, err := rotated.Rewrap(inc1, w)
	if err != nil {
		t.Fatal(err)
	}
	if nw.KeyID != "2026" || bytes.Equal(nw.Sealed, w.Sealed) {
		t.Fatalf("rewrapped under %q", nw.KeyID)
	}
	if same, err := rotated.Rewrap(inc1, nw); err != nil || !bytes.Equal(same.Sealed, nw.Sealed) {
		t.Fatal("re-wrapping a current wrapping changed it")
	}
	newOnly := mustVault(t, spec("2026", 2))
	niv, err := newOnly.ForIncident(inc1, nw)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := niv.Open(IncidentKeyID, inc1, idx, Email, sealed); err != nil || string(got) != "a@example.org" {
		t.Fatalf("open after the old master left: %q %v", got, err)
	}
	if !bytes.Equal(niv.Index("a@example.org"), idx) {
		t.Fatal("re-wrapping changed the blind index")
	}
	if _, err := newOnly.ForIncident(inc1, w); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old wrapping without the old master: %v", err)
	}
	// New incident keys are wrapped under the new current key, also through
	// an incident's vault.
	if w3, _ := niv.NewIncidentKey(inc2); w3.KeyID != "2026" {
		t.Fatalf("new key wrapped under %q", w3.KeyID)
	}
}

// TestDestroyedKeyFailsCleanly: after the purge, opening a value the
// incident key sealed (say, restored from a backup) fails with
// ErrKeyDestroyed, without panicking or quoting the value; ring rows open.
func TestDestroyedKeyFailsCleanly(t *testing.T) {
	ring := mustVault(t, spec("k1", 1))
	w, _ := ring.NewIncidentKey(inc1)
	iv, _ := ring.ForIncident(inc1, w)
	idx := iv.Index("a@example.org")
	sealed := iv.Seal(inc1, idx, FullName, []byte("Jeanne Martin"))
	legacyIdx := ring.Index("b@example.org")
	legacy := ring.Seal(inc1, legacyIdx, FullName, []byte("Paul Durand"))

	for name, dv := range map[string]*Vault{"ring": ring.Destroyed(), "incident vault": iv.Destroyed()} {
		_, err := dv.Open(IncidentKeyID, inc1, idx, FullName, sealed)
		if !errors.Is(err, ErrKeyDestroyed) || strings.Contains(err.Error(), "Jeanne") {
			t.Errorf("%s: open after destruction: %v", name, err)
		}
		if _, err := dv.Opener().Open(IncidentKeyID, inc1, idx, FullName, sealed); !errors.Is(err, ErrKeyDestroyed) {
			t.Errorf("%s: opener after destruction: %v", name, err)
		}
		if got, err := dv.Open("k1", inc1, legacyIdx, FullName, legacy); err != nil || string(got) != "Paul Durand" {
			t.Errorf("%s: ring row: %q %v", name, got, err)
		}
		if dv.KeyID() != "k1" || len(dv.Indexes("a@example.org")) != 1 {
			t.Errorf("%s: destroyed vault still indexes under the incident key: %v", name, dv.KeyIDs())
		}
	}
	if _, err := ring.WithoutIncidentKey().Open(IncidentKeyID, inc1, idx, FullName, sealed); !errors.Is(err, ErrNoIncidentKey) {
		t.Errorf("no incident key: %v", err)
	}
}
