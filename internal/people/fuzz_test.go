package people

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"

	"github.com/breach-engine/breach/internal/breach"
)

// The fuzz targets feed arbitrary bytes to the readers; the seed corpus is
// committed under testdata/fuzz. Run them with
//
//	go test -run '^$' -fuzz FuzzCSV ./internal/people/
//	go test -run '^$' -fuzz FuzzJSONL ./internal/people/
//
// They check that reading never panics, that every row is accounted for
// with a plausible line number, and that what is accepted is normalised:
// no control character can reach a mail header.

func FuzzCSV(f *testing.F) {
	f.Add([]byte(header + "a@example.org,Marie,Dupont,06 12 34 56 78,fr,FT-1\n"))
	f.Add([]byte("\xEF\xBB\xBFemail;name\r\n\"a@example.org\";\"Dupont; \"\"M\"\"\"\r\n"))
	f.Add([]byte(header + "b@example.org,\"Marie\nDupont\",B,,,\n"))
	f.Add([]byte(header + "b@example.org,Zo\xe9,B,,,\n"))
	f.Add([]byte("email\n\"unclosed\n"))
	fuzzReader(f, CSV)
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"email":"a@example.org","first_name":"Zoé","last_name":"Lefèvre","phone":"+33612345678","language":"en"}` + "\n"))
	f.Add([]byte("{\"email\":\"a@example.org\",\"name\":\"Zo\xe9\"}\r\n\n{\"email\":1}\n"))
	f.Add([]byte(`{"email":"a@example.org","name":"A\u2028B"} {}`))
	fuzzReader(f, JSONL)
}

func fuzzReader(f *testing.F, format Format) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), format)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("NewReader: %T %v", err, err)
			}
			return
		}
		plain := data
		if r.Compressed() {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("the reader took a bad gzip header: %v", err)
			}
			plain, _ = io.ReadAll(zr) // up to a corrupt part
		}
		lines := int64(bytes.Count(plain, []byte{'\n'})) + 1
		last := int64(0)
		for p, err := range r.All() {
			var re *RowError
			var line int64
			switch {
			case err == nil:
				line = p.Line
				checkPerson(t, p)
			case errors.As(err, &re):
				line = re.Line
				if re.Reason == "" {
					t.Fatal("reject without a reason")
				}
			default:
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("Next: %T %v", err, err)
				}
				continue
			}
			if line <= last || line > lines {
				t.Fatalf("line %d after %d (file has %d lines)", line, last, lines)
			}
			last = line
		}
	})
}

func checkPerson(t *testing.T, p Person) {
	t.Helper()
	for _, s := range []string{p.Email, p.Name, p.Phone, p.AccountID} {
		if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || invisible(r) || r == unicode.ReplacementChar }) >= 0 {
			t.Fatalf("control or invisible character accepted: %q", s)
		}
		if s != strings.TrimSpace(s) {
			t.Fatalf("untrimmed value %q", s)
		}
	}
	if again, err := NormalizeEmail(p.Email); err != nil || again != p.Email {
		t.Fatalf("email %q does not normalise to itself: %q %v", p.Email, again, err)
	}
	if again, err := NormalizeName(p.Name); err != nil || again != p.Name {
		t.Fatalf("name %q does not normalise to itself: %q %v", p.Name, again, err)
	}
	if p.Phone != "" {
		if p.Phone[0] != '+' || len(p.Phone) < 9 || len(p.Phone) > 16 || strings.Trim(p.Phone[1:], "0123456789") != "" {
			t.Fatalf("phone %q is not E.164", p.Phone)
		}
	}
	if p.Language != breach.French && p.Language != breach.English {
		t.Fatalf("language %q", p.Language)
	}
}
