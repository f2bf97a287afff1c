package vault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func spec(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func mustVault(t testing.TB, s string) *Vault {
	t.Helper()
	v, err := FromSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	inc1 = uuid.MustParse("6f1c1f9e-0d0b-4c1e-9a55-1a2b3c4d5e6f")
	inc2 = uuid.MustParse("7f1c1f9e-0d0b-4c1e-9a55-1a2b3c4d5e6f")
)

func TestSealOpenRoundTrip(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	idx := v.Index("marie.dupont@example.org")
	sealed := v.Seal(inc1, idx, Email, []byte("marie.dupont@example.org"))
	if bytes.Contains(sealed, []byte("marie")) {
		t.Fatal("plaintext in the sealed value")
	}
	if len(sealed) != len("marie.dupont@example.org")+Overhead {
		t.Fatalf("sealed length %d", len(sealed))
	}
	got, err := v.Open("k1", inc1, idx, Email, sealed)
	if err != nil || string(got) != "marie.dupont@example.org" {
		t.Fatalf("open: %q %v", got, err)
	}
	// Two seals of the same value differ (random nonce).
	if bytes.Equal(sealed, v.Seal(inc1, idx, Email, []byte("marie.dupont@example.org"))) {
		t.Fatal("deterministic sealing")
	}
	// The Sealer fast path is compatible.
	s := v.Sealer(inc1)
	if !bytes.Equal(s.Index("marie.dupont@example.org"), idx) {
		t.Fatal("Sealer index differs")
	}
	o := v.Opener()
	for i := 0; i < 500; i++ { // past the random block's refill
		sv := s.Seal(idx, FullName, "Marie Dupont")
		got, err := o.Open("k1", inc1, idx, FullName, sv)
		if err != nil || string(got) != "Marie Dupont" {
			t.Fatalf("sealer round %d: %q %v", i, got, err)
		}
	}
}

func TestSealedValueCannotMove(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	idx := v.Index("a@example.org")
	other := v.Index("b@example.org")
	sealed := v.Seal(inc1, idx, FullName, []byte("Jean Martin"))
	for name, open := range map[string]func() ([]byte, error){
		"other row":      func() ([]byte, error) { return v.Open("k1", inc1, other, FullName, sealed) },
		"other incident": func() ([]byte, error) { return v.Open("k1", inc2, idx, FullName, sealed) },
		"other column":   func() ([]byte, error) { return v.Open("k1", inc1, idx, Phone, sealed) },
		"tampered": func() ([]byte, error) {
			bad := append([]byte(nil), sealed...)
			bad[len(bad)-1] ^= 1
			return v.Open("k1", inc1, idx, FullName, bad)
		},
		"truncated": func() ([]byte, error) { return v.Open("k1", inc1, idx, FullName, sealed[:10]) },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		} else if strings.Contains(err.Error(), "Jean") {
			t.Errorf("%s: error quotes the value: %v", name, err)
		}
	}
}

func TestWrongKeyCannotOpenOrIndex(t *testing.T) {
	v1 := mustVault(t, spec("k1", 1))
	v2 := mustVault(t, spec("k1", 2)) // same ID, different key
	idx := v1.Index("a@example.org")
	sealed := v1.Seal(inc1, idx, Email, []byte("a@example.org"))
	if _, err := v2.Open("k1", inc1, idx, Email, sealed); err == nil {
		t.Fatal("another key opened the value")
	}
	if bytes.Equal(v2.Index("a@example.org"), idx) {
		t.Fatal("the index does not depend on the key")
	}
	if _, err := v1.Open("k9", inc1, idx, Email, sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestIndexIsDerivedNotRawHMAC(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	if len(v.Index("x@example.org")) != IndexSize {
		t.Fatal("index size")
	}
	if bytes.Equal(v.Index("x@example.org"), v.Index("X@example.org")) {
		t.Fatal("index folds the local part: the caller normalises, the vault does not")
	}
}

func TestRotation(t *testing.T) {
	old := mustVault(t, spec("2025", 1))
	idxOld := old.Index("a@example.org")
	sealedOld := old.Seal(inc1, idxOld, Email, []byte("a@example.org"))

	rotated := mustVault(t, spec("2026", 2)+","+spec("2025", 1))
	if rotated.KeyID() != "2026" || strings.Join(rotated.KeyIDs(), ",") != "2026,2025" {
		t.Fatalf("key ids %v", rotated.KeyIDs())
	}
	// Old rows stay readable with the old key in the ring.
	if got, err := rotated.Open("2025", inc1, idxOld, Email, sealedOld); err != nil || string(got) != "a@example.org" {
		t.Fatalf("old row after rotation: %q %v", got, err)
	}
	// New rows get a new index; Indexes and OtherIndexes find the old one.
	if bytes.Equal(rotated.Index("a@example.org"), idxOld) {
		t.Fatal("rotation kept the index key")
	}
	idxs := rotated.Indexes("a@example.org")
	if len(idxs) != 2 || idxs[0].KeyID != "2026" || idxs[1].KeyID != "2025" || !bytes.Equal(idxs[1].Index, idxOld) {
		t.Fatalf("indexes %+v", idxs)
	}
	others := rotated.Sealer(inc1).OtherIndexes("a@example.org")
	if len(others) != 1 || !bytes.Equal(others[0], idxOld) {
		t.Fatal("other indexes")
	}
	if old.Sealer(inc1).OtherIndexes("a@example.org") != nil {
		t.Fatal("one-key ring has other indexes")
	}
	// Without the old key the old row is lost: the documented consequence.
	newOnly := mustVault(t, spec("2026", 2))
	if _, err := newOnly.Open("2025", inc1, idxOld, Email, sealedOld); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("dropped key: %v", err)
	}
}

func TestFromSpecErrorsDoNotQuoteTheKey(t *testing.T) {
	_, err := FromSpec("k1:c2VjcmV0LXNob3J0")
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("bad spec: %v", err)
	}
}

// TestSealerAppends: the Append forms write the same index and values that
// open, one after the other in one buffer, without allocating when the
// buffer has room, and without touching what the buffer held before.
func TestSealerAppends(t *testing.T) {
	v := mustVault(t, spec("new", 2)+","+spec("old", 1))
	s := v.Sealer(inc1)
	email := "marie.dupont@example.org"
	idx := s.Index(email)
	size := 2*IndexSize + SealedSize(len(email)) + SealedSize(len("Marie Dupont"))
	buf := append(make([]byte, 0, 4+size), "head"...)
	var sealedEmail, sealedName []byte
	allocs := testing.AllocsPerRun(100, func() {
		buf = buf[:4]
		buf = s.AppendIndex(buf, email)
		buf = s.AppendOtherIndexes(buf, email)
		at := len(buf)
		buf = s.AppendSeal(buf, idx, Email, email)
		sealedEmail = buf[at:len(buf):len(buf)]
		at = len(buf)
		buf = s.AppendSeal(buf, idx, FullName, "Marie Dupont")
		sealedName = buf[at:]
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
	if len(buf) != 4+size || string(buf[:4]) != "head" {
		t.Fatalf("buffer %d bytes, head %q", len(buf), buf[:4])
	}
	if !bytes.Equal(buf[4:4+IndexSize], idx) || !bytes.Equal(buf[4+IndexSize:4+2*IndexSize], s.OtherIndexes(email)[0]) ||
		s.Others() != 1 || !bytes.Equal(s.OtherIndexes(email)[0], v.Indexes(email)[1].Index) {
		t.Fatal("appended indexes differ")
	}
	if got, err := v.Open("new", inc1, idx, Email, sealedEmail); err != nil || string(got) != email {
		t.Fatalf("email: %q %v", got, err)
	}
	if got, err := v.Open("new", inc1, idx, FullName, sealedName); err != nil || string(got) != "Marie Dupont" {
		t.Fatalf("name: %q %v", got, err)
	}
	if bytes.Contains(buf, []byte("Marie")) || bytes.Contains(buf, []byte("dupont")) {
		t.Fatal("plain text left in the buffer")
	}
}

func BenchmarkSealerRow(b *testing.B) {
	v := mustVault(b, spec("k1", 1))
	s := v.Sealer(inc1)
	b.ReportAllocs()
	for b.Loop() {
		idx := s.Index("jeanne.lefebvre4821@mail.example.org")
		s.Seal(idx, Email, "jeanne.lefebvre4821@mail.example.org")
		s.Seal(idx, FullName, "Jeanne Lefèbvre")
		s.Seal(idx, Phone, "+33612345678")
		s.Seal(idx, AccountID, "FT-0012345678")
	}
}
