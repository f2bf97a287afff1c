package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestContactRecordRoundTrip(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	s := v.Sealer(inc1)
	idx := v.Index("zoe.lefevre@example.org")
	for _, c := range []ContactData{
		{Email: "zoe.lefevre@example.org", Name: "Zoé Lefèvre", Phone: "+33612345678"},
		{Email: "a@example.org"},                                 // no name, no phone
		{Email: "b@example.org", Name: strings.Repeat("é", 200)}, // a length over one uvarint byte
	} {
		sealed := s.AppendSealContact(nil, idx, c)
		if len(sealed) != SealedContactSize(c) {
			t.Fatalf("%d bytes, SealedContactSize %d", len(sealed), SealedContactSize(c))
		}
		for _, part := range []string{c.Email, c.Name, c.Phone, c.AccountID, "example"} {
			if part != "" && bytes.Contains(sealed, []byte(part)) {
				t.Fatalf("plain text %q in the record", part)
			}
		}
		for name, open := range map[string]func() (ContactData, error){
			"Vault":  func() (ContactData, error) { return v.OpenContact("k1", inc1, idx, sealed) },
			"Opener": func() (ContactData, error) { return v.Opener().OpenContact("k1", inc1, idx, sealed) },
		} {
			if got, err := open(); err != nil || got != c {
				t.Fatalf("%s: %+v %v", name, got, err)
			}
		}
		if got, err := v.OpenContact("k1", inc1, idx, v.SealContact(inc1, idx, c)); err != nil || got != c {
			t.Fatalf("SealContact: %+v %v", got, err)
		}
	}
	// One record fits in a buffer sized for it, after what it holds.
	c := ContactData{Email: "a@example.org", Name: "A"}
	buf := append(make([]byte, 0, 3+SealedContactSize(c)), "abc"...)
	if allocs := testing.AllocsPerRun(50, func() { buf = s.AppendSealContact(buf[:3], idx, c) }); allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
	if got, err := v.OpenContact("k1", inc1, idx, buf[3:]); err != nil || got != c || string(buf[:3]) != "abc" {
		t.Fatalf("appended: %+v %v %q", got, err, buf[:3])
	}
}

// TestContactRecordCannotMoveOrChange: a record opens only for its person,
// its incident, under its key and as a record; a changed byte, a wrong key or
// a destroyed incident key fail, without quoting the data.
func TestContactRecordCannotMoveOrChange(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	idx, other := v.Index("zoe.lefevre@example.org"), v.Index("jean@example.org")
	c := ContactData{Email: "zoe.lefevre@example.org", Name: "Zoé Lefèvre", Phone: "+33612345678", AccountID: "FT-0012345678"}
	sealed := v.SealContact(inc1, idx, c)
	tampered := bytes.Clone(sealed)
	tampered[nonceSize+3] ^= 1
	wrong := mustVault(t, spec("k1", 9))
	for name, open := range map[string]func() (ContactData, error){
		"other person":   func() (ContactData, error) { return v.OpenContact("k1", inc1, other, sealed) },
		"other incident": func() (ContactData, error) { return v.OpenContact("k1", inc2, idx, sealed) },
		"tampered":       func() (ContactData, error) { return v.OpenContact("k1", inc1, idx, tampered) },
		"truncated":      func() (ContactData, error) { return v.OpenContact("k1", inc1, idx, sealed[:20]) },
		"wrong key":      func() (ContactData, error) { return wrong.OpenContact("k1", inc1, idx, sealed) },
		"unknown key id": func() (ContactData, error) { return v.OpenContact("k2", inc1, idx, sealed) },
		"a column value as a record": func() (ContactData, error) {
			return v.OpenContact("k1", inc1, idx, v.Seal(inc1, idx, Email, []byte(c.Email)))
		},
	} {
		got, err := open()
		if err == nil {
			t.Fatalf("%s: opened %+v", name, got)
		}
		for _, part := range []string{"zoe", "Zoé", "Lef", "612345678", "FT-"} {
			if strings.Contains(err.Error(), part) {
				t.Fatalf("%s: error quotes the data: %v", name, err)
			}
		}
	}
	if _, err := v.Open("k1", inc1, idx, Email, sealed); err == nil {
		t.Fatal("a record opened as the email column")
	}
	// A record whose key was destroyed (the purge) fails with that reason.
	w, err := v.NewIncidentKey(inc1)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := v.ForIncident(inc1, w)
	if err != nil {
		t.Fatal(err)
	}
	iidx := iv.Index(c.Email)
	isealed := iv.SealContact(inc1, iidx, c)
	if got, err := iv.OpenContact(IncidentKeyID, inc1, iidx, isealed); err != nil || got != c {
		t.Fatalf("incident key: %+v %v", got, err)
	}
	if _, err := v.Destroyed().OpenContact(IncidentKeyID, inc1, iidx, isealed); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("destroyed key: %v", err)
	}
}

// TestMalformedContactRecord: a record that opens but does not decode (only a
// bug could seal one) is an error, not a panic nor a partial contact.
func TestMalformedContactRecord(t *testing.T) {
	v := mustVault(t, spec("k1", 1))
	idx := v.Index("a@example.org")
	good := appendContact(nil, ContactData{Email: "a@example.org", Name: "A", AccountID: "FT-1"})
	for name, plain := range map[string][]byte{
		"empty":          {},
		"unknown format": append([]byte{9}, good[1:]...),
		"short":          good[:len(good)-1],
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge length":    {contactV1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad uvarint":    {contactV1, 0x80},
	} {
		got, err := v.OpenContact("k1", inc1, idx, v.Seal(inc1, idx, Contact, plain))
		if err == nil || got != (ContactData{}) {
			t.Fatalf("%s: %+v %v", name, got, err)
		}
	}
}

func BenchmarkSealerContactRow(b *testing.B) {
	v := mustVault(b, spec("k1", 1))
	s := v.Sealer(inc1)
	c := ContactData{Email: "jeanne.lefebvre4821@mail.example.org", Name: "Jeanne Lefèbvre", Phone: "+33612345678", AccountID: "FT-0012345678"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendIndex(buf[:0], c.Email)
		buf = s.AppendSealContact(buf, buf[:IndexSize], c)
	}
}
