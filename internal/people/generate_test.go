package people

import (
	"bytes"
	"strings"
	"testing"

	"github.com/breach-engine/breach/internal/breach"
)

func TestGenerateIsDeterministicAndClean(t *testing.T) {
	for _, format := range []Format{CSV, JSONL} {
		var a, b, c bytes.Buffer
		if err := Generate(&a, 5000, 42, format); err != nil {
			t.Fatal(err)
		}
		_ = Generate(&b, 5000, 42, format)
		_ = Generate(&c, 5000, 43, format)
		if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Fatalf("%s: not deterministic by seed", format)
		}
		res := read(t, a.String(), "")
		if res.fatal != nil || len(res.rejects) != 0 || len(res.people) != 5000 || res.r.Format() != format {
			t.Fatalf("%s: %v %+v (%d people)", format, res.fatal, res.rejects, len(res.people))
		}
		emails, english, accents, phones := map[string]bool{}, 0, 0, 0
		for _, p := range res.people {
			emails[p.Email] = true
			if p.Language == breach.English {
				english++
			}
			if strings.ContainsAny(p.Name, "éèëêïîôöüçÉ") {
				accents++
			}
			if strings.HasPrefix(p.Phone, "+336") || strings.HasPrefix(p.Phone, "+337") {
				phones++
			}
			domain := p.Email[strings.LastIndexByte(p.Email, '@')+1:]
			if d := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(domain, "example.org"), "example.com"), "example.net"); d == domain || (d != "" && !strings.HasSuffix(d, ".")) {
				t.Fatalf("domain %q is not an RFC 2606 example domain", domain)
			}
		}
		if len(emails) != 5000 {
			t.Fatalf("%s: %d distinct emails", format, len(emails))
		}
		if english < 150 || english > 350 || accents < 1000 || phones < 4000 {
			t.Fatalf("%s: english %d accents %d phones %d", format, english, accents, phones)
		}
	}
}

func TestGenerateDuplicates(t *testing.T) {
	var buf bytes.Buffer
	if err := GenerateWith(&buf, 10000, 7, CSV, GenerateOptions{Duplicates: 0.05}); err != nil {
		t.Fatal(err)
	}
	res := read(t, buf.String(), CSV)
	if res.fatal != nil || len(res.rejects) != 0 {
		t.Fatal(res.fatal, res.rejects)
	}
	emails := map[string]bool{}
	for _, p := range res.people {
		emails[p.Email] = true
	}
	dups := len(res.people) - len(emails)
	if dups < 350 || dups > 650 {
		t.Fatalf("%d duplicates in 10000 rows at 5%%", dups)
	}
}

func BenchmarkReadCSV(b *testing.B) {
	var buf bytes.Buffer
	if err := Generate(&buf, 50000, 1, CSV); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(buf.Bytes()), CSV)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range r.All() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 50000 {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50000, "ns/row")
}
