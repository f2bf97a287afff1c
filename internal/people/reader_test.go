package people

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/breach-engine/breach/internal/breach"
)

type result struct {
	people  []Person
	rejects []RowError
	fatal   error
	r       *Reader
}

func read(t testing.TB, input string, format Format) result {
	t.Helper()
	var res result
	r, err := NewReader(strings.NewReader(input), format)
	if err != nil {
		res.fatal = err
		return res
	}
	res.r = r
	for p, err := range r.All() {
		var re *RowError
		switch {
		case err == nil:
			res.people = append(res.people, p)
		case errors.As(err, &re):
			res.rejects = append(res.rejects, *re)
		default:
			res.fatal = err
		}
	}
	return res
}

const header = "email,first_name,last_name,phone,language,account_id\n"

func TestCSVGoodInput(t *testing.T) {
	in := "\xEF\xBB\xBF" + // BOM
		"Email, First Name ,LAST_NAME,Phone,language,account-id\r\n" +
		"marie.dupont@Example.ORG,  Marie  ,Dupont,06 12 34 56 78,,FT-1\r\n" +
		"\r\n" + // empty line, skipped
		"\"jean.martin@example.com\",\"Jean \"\"Jeannot\"\"\",\"Martin\",+33 (0)7 11 22 33 44,EN,\r\n" +
		"zoe@café.example.net,Zoé,Lefèvre,0692 12 34 56,fr-FR,\n" +
		"x@example.org,,,,,\n" +
		"last@example.org,A,B,0033612345678,fr,z" // no final newline
	res := read(t, in, "")
	if res.fatal != nil || len(res.rejects) != 0 {
		t.Fatalf("fatal %v rejects %+v", res.fatal, res.rejects)
	}
	want := []Person{
		{Line: 2, Email: "marie.dupont@example.org", Name: "Marie Dupont", Phone: "+33612345678", Language: breach.French, AccountID: "FT-1"},
		{Line: 4, Email: "jean.martin@example.com", Name: `Jean "Jeannot" Martin`, Phone: "+33711223344", Language: breach.English},
		{Line: 5, Email: "zoe@xn--caf-dma.example.net", Name: "Zoé Lefèvre", Phone: "+262692123456", Language: breach.French},
		{Line: 6, Email: "x@example.org", Language: breach.French},
		{Line: 7, Email: "last@example.org", Name: "A B", Phone: "+33612345678", Language: breach.French, AccountID: "z"},
	}
	if len(res.people) != len(want) {
		t.Fatalf("got %d people: %+v", len(res.people), res.people)
	}
	for i := range want {
		if res.people[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, res.people[i], want[i])
		}
	}
	if res.r.Format() != CSV || res.r.Encoding() != EncodingUTF8 || res.r.Compressed() {
		t.Fatalf("format %s encoding %s", res.r.Format(), res.r.Encoding())
	}
}

func TestCSVSemicolonAndNameColumn(t *testing.T) {
	res := read(t, "name;email\n\"Dupont; Marie\";m@example.org\n", CSV)
	if res.fatal != nil || len(res.people) != 1 || res.people[0].Name != "Dupont; Marie" {
		t.Fatalf("%+v", res)
	}
}

func TestCSVQuotedNewlineCountsLines(t *testing.T) {
	// A quoted field over two lines is one record (rejected: a line break in
	// a name); the next record's line number accounts for both lines.
	res := read(t, "email,name\na@example.org,\"Marie\nDupont\"\nb@example.org,Jean\n", CSV)
	if res.fatal != nil || len(res.rejects) != 1 || res.rejects[0].Line != 2 || len(res.people) != 1 || res.people[0].Line != 4 {
		t.Fatalf("%+v", res)
	}
	if !strings.Contains(res.rejects[0].Reason, "line break") {
		t.Fatalf("reason %q", res.rejects[0].Reason)
	}
}

// TestCSVBadInput is the table of "what bad input gets" (issue 3): every
// rejected row is reported with its line number and a reason, never its
// content.
func TestCSVBadInput(t *testing.T) {
	long := strings.Repeat("a", 2000)
	for _, tc := range []struct {
		name   string
		input  string
		fatal  string // a *FileError's reason contains this
		line   int64  // line of the fatal error or of the single reject
		reason string // the reject's reason contains this
	}{
		{name: "unknown column", input: "email,colour\nm@example.org,red\n", fatal: `unknown column "colour"`, line: 1},
		{name: "no email column", input: "name,phone\nMarie,0612345678\n", fatal: "no email column", line: 1},
		{name: "duplicate column", input: "email,EMAIL\n", fatal: "appears twice", line: 1},
		{name: "name and first_name", input: "email,name,first_name\n", fatal: "use one or the other", line: 1},
		{name: "header missing", input: "marie@example.org,Marie\n", fatal: "header is missing", line: 1},
		{name: "empty file", input: "", fatal: "empty", line: 1},
		{name: "utf-16", input: "\xFF\xFEe\x00m\x00", fatal: "UTF-16", line: 1},
		{name: "lone CR line ends", input: "email,name\rm@example.org,M\r", fatal: "lone CR", line: 1},
		{name: "too many fields", input: header + "a@example.org,A,B,,,\nb@example.org,A,B,,,,extra\n", line: 3, reason: "wrong column count: 7 fields, the header has 6"},
		{name: "too few fields", input: header + "b@example.org,A\n", line: 2, reason: "wrong column count: 2 fields"},
		{name: "bare quote", input: header + "b@example.org,Ma\"rie,B,,,\n", line: 2, reason: "bad quoting"},
		{name: "text after closing quote", input: header + "b@example.org,\"Marie\"x,B,,,\n", line: 2, reason: "bad quoting: text after a closing quote"},
		{name: "unclosed quote", input: header + "a@example.org,A,B,,,\nb@example.org,\"Marie,B,,,\nc@example.org,C,D,,,\n", line: 3, reason: "never closed"},
		{name: "invalid email", input: header + "not-an-email,A,B,,,\n", line: 2, reason: "email: not an address"},
		{name: "display name", input: header + "Marie <m@example.org>,A,B,,,\n", line: 2, reason: "email: only a bare address"},
		{name: "two addresses", input: header + "\"a@example.org, b@example.org\",A,B,,,\n", line: 2, reason: "email: only a bare address"},
		{name: "missing email", input: header + ",A,B,,,\n", line: 2, reason: "email: missing"},
		{name: "domain without dot", input: header + "a@localhost,A,B,,,\n", line: 2, reason: "no dot"},
		{name: "oversize field", input: header + "a@example.org," + long + ",B,,,\n", line: 2, reason: "first_name: oversize field"},
		{name: "oversize email", input: header + strings.Repeat("a", 250) + "@example.org,A,B,,,\n", line: 2, reason: "email: oversize"},
		{name: "oversize name", input: header + "a@example.org," + strings.Repeat("é", 150) + "," + strings.Repeat("b", 100) + ",,,\n", line: 2, reason: "oversize"},
		{name: "CR in name", input: header + "a@example.org,\"Marie\rBcc: x@example.org\",B,,,\n", line: 2, reason: "line break"},
		{name: "LF in name", input: header + "a@example.org,\"Marie\nBcc: x@example.org\",B,,,\n", line: 2, reason: "line break"},
		{name: "control character", input: header + "a@example.org,Ma\x07rie,B,,,\n", line: 2, reason: "control character"},
		{name: "bidi override", input: header + "a@example.org,Ma\u202Erie,B,,,\n", line: 2, reason: "invisible"},
		{name: "bad phone", input: header + "a@example.org,A,B,12345,,\n", line: 2, reason: "phone:"},
		{name: "phone letters", input: header + "a@example.org,A,B,06 12 AB 56 78,,\n", line: 2, reason: "phone: only digits"},
		{name: "short +33", input: header + "a@example.org,A,B,+33 6 12 34,,\n", line: 2, reason: "9 digits"},
		{name: "bad language", input: header + "a@example.org,A,B,,de,\n", line: 2, reason: "language: must be fr or en"},
		{name: "mixed encodings", input: header + "a@example.org,Zoé,B,,,\nb@example.org,Zo\xe9,B,,,\n", line: 3, reason: "mixes encodings"},
		{name: "undefined windows-1252 byte", input: header + "a@example.org,Zo\x81,B,,,\n", line: 2, reason: "not valid text"},
		{name: "NUL in field", input: header + "a@example.org,Ma\x00rie,B,,,\n", line: 2, reason: "control character"},
		{name: "space in account", input: header + "a@example.org,A,B,,,FT 1\n", line: 2, reason: "account_id: contains white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, tc.input, "")
			if tc.fatal != "" {
				var fe *FileError
				if !errors.As(res.fatal, &fe) || !strings.Contains(fe.Reason, tc.fatal) || fe.Line != tc.line {
					t.Fatalf("fatal = %v, want line %d %q", res.fatal, tc.line, tc.fatal)
				}
				return
			}
			if res.fatal != nil || len(res.rejects) != 1 {
				t.Fatalf("fatal %v, rejects %+v", res.fatal, res.rejects)
			}
			if r := res.rejects[0]; r.Line != tc.line || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("reject %+v, want line %d %q", r, tc.line, tc.reason)
			}
			noContent(t, tc.input, res.rejects[0].Reason)
		})
	}
}

// noContent checks that a reason quotes nothing of the row.
func noContent(t *testing.T, input, reason string) {
	t.Helper()
	for _, secret := range []string{"Marie", "Zo", "example.org", "Bcc", "12 34", "rie", "red"} {
		if strings.Contains(input, secret) && strings.Contains(reason, secret) {
			t.Errorf("reason %q quotes the row (%q)", reason, secret)
		}
	}
}

func TestWindows1252IsConverted(t *testing.T) {
	// "Zoé Lefèvre" and "Noël" as a spreadsheet on Windows saves them.
	in := header + "a@example.org,Zo\xe9,Lef\xe8vre,,,\nb@example.org,No\xebl,\x80uro,,,\n"
	res := read(t, in, CSV)
	if res.fatal != nil || len(res.rejects) != 0 || len(res.people) != 2 {
		t.Fatalf("%+v", res)
	}
	if res.people[0].Name != "Zoé Lefèvre" || res.people[1].Name != "Noël €uro" || res.r.Encoding() != EncodingWindows1252 {
		t.Fatalf("%q %q %s", res.people[0].Name, res.people[1].Name, res.r.Encoding())
	}
	// JSONL too.
	res = read(t, "{\"email\":\"a@example.org\",\"name\":\"Zo\xe9\"}\n", "")
	if res.fatal != nil || len(res.people) != 1 || res.people[0].Name != "Zoé" || res.r.Encoding() != EncodingWindows1252 {
		t.Fatalf("%+v", res)
	}
}

func TestGzipIsDetected(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, header+"a@example.org,A,B,,,\n")
	zw.Close()
	res := read(t, buf.String(), "")
	if res.fatal != nil || len(res.people) != 1 || !res.r.Compressed() {
		t.Fatalf("%+v", res)
	}
	// A corrupt stream stops reading with a *FileError.
	b := buf.Bytes()
	bad := append(append([]byte(nil), b[:len(b)-8]...), 0, 0, 0, 0, 0, 0, 0, 0)
	res = read(t, string(bad), "")
	var fe *FileError
	if !errors.As(res.fatal, &fe) || !strings.Contains(fe.Reason, "gzip") {
		t.Fatalf("corrupt gzip: %+v", res)
	}
	res = read(t, string(b[:len(b)/2]), "")
	if !errors.As(res.fatal, &fe) {
		t.Fatalf("truncated gzip: %+v", res)
	}
}

func TestJSONL(t *testing.T) {
	in := "{\"email\":\"a@Example.org\",\"first_name\":\"Zoé\",\"last_name\":\"Lefèvre\",\"phone\":\"0612345678\",\"language\":\"en\",\"account_id\":\"FT-1\"}\r\n" +
		"\n" +
		"{\"EMAIL\":\"b@example.org\",\"name\":null}\n" +
		"{\"email\":\"c@example.org\",\"colour\":\"red\"}\n" +
		"{\"email\":\"d@example.org\",\"phone\":612345678}\n" +
		"{\"email\":\"e@example.org\"\n" +
		"[1,2]\n" +
		"{\"email\":\"f@example.org\"} {}\n" +
		"{\"email\":\"g@example.org\",\"name\":\"A\",\"first_name\":\"B\"}\n" +
		"{\"email\":\"h@example.org\",\"name\":\"" + strings.Repeat("x", 9000) + "\"}\n" +
		"{\"email\":\"i@example.org\",\"name\":\"Marie\\nBcc: x@example.org\"}\n" +
		"{\"email\":\"j@example.org\"}"
	res := read(t, in, "")
	if res.fatal != nil || res.r.Format() != JSONL {
		t.Fatalf("%+v", res)
	}
	if len(res.people) != 3 || res.people[0] != (Person{Line: 1, Email: "a@example.org", Name: "Zoé Lefèvre", Phone: "+33612345678", Language: breach.English, AccountID: "FT-1"}) ||
		res.people[1].Line != 3 || res.people[2].Line != 12 {
		t.Fatalf("people %+v", res.people)
	}
	want := []struct {
		line   int64
		reason string
	}{
		{4, `unknown field "colour"`}, {5, "phone: must be a string"}, {6, "malformed JSON"}, {7, "not a JSON object"},
		{8, "text after the JSON object"}, {9, "use one or the other"}, {10, "oversize line"}, {11, "line break"},
	}
	if len(res.rejects) != len(want) {
		t.Fatalf("rejects %+v", res.rejects)
	}
	for i, w := range want {
		if r := res.rejects[i]; r.Line != w.line || !strings.Contains(r.Reason, w.reason) {
			t.Errorf("reject %d: %+v, want line %d %q", i, r, w.line, w.reason)
		}
		noContent(t, in, res.rejects[i].Reason)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"  Marie.Dupont@EXAMPLE.org ":           "Marie.Dupont@example.org",
		"marie@Café.Example":                    "marie@xn--caf-dma.example",
		"marie@xn--caf-dma.example":             "marie@xn--caf-dma.example",
		"marie+tag@sub.example.net":             "marie+tag@sub.example.net",
		"élodie@example.org":                    "élodie@example.org",
		"a@b@example.org":                       "",
		"a..b@example.org":                      "",
		".a@example.org":                        "",
		"a@[127.0.0.1]":                         "",
		"a@-example.org":                        "",
		"a@example..org":                        "",
		"\"a b\"@example.org":                   "",
		"a@example.org (Marie)":                 "",
		"a@exa mple.org":                        "",
		"a@exa_mple.org":                        "",
		"a@" + strings.Repeat("x", 64) + ".org": "",
	} {
		got, err := NormalizeEmail(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"06 12 34 56 78":                     "+33612345678",
		"06.12.34.56.78":                     "+33612345678",
		"06-12-34-56-78":                     "+33612345678",
		"0612345678":                         "+33612345678",
		"01 23 45 67 89":                     "+33123456789",
		"+33 6 12 34 56 78":                  "+33612345678",
		"+33 (0)6 12 34 56 78":               "+33612345678",
		"0033612345678":                      "+33612345678",
		"0692 12 34 56":                      "+262692123456",
		"0596 12 34 56":                      "+596596123456",
		"+44 20 7946 0958":                   "+442079460958",
		"+1 (212) 555-0100":                  "+12125550100",
		"06\u00a012\u00a034\u00a056\u00a078": "+33612345678",
		"0012125550100":                      "+12125550100",
		"6 12 34 56 78":                      "!",
		"00 12 34":                           "!",
		"061234567":                          "!",
		"+33 06 12 34 56 7":                  "!",
		"+1234567":                           "!",
		"+1234567890123456":                  "!",
		"+0 123 456 789":                     "!",
		"06 12 34 56 78 ext 2":               "!",
		"+33+612345678":                      "!",
	} {
		got, err := NormalizePhone(in)
		if want == "!" {
			if err == nil {
				t.Errorf("%q accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"  Marie   Dupont ":      "Marie Dupont",
		"Marie\u00a0Dupont":      "Marie Dupont",
		"Ze\u0301phyrin":         "Zéphyrin", // decomposed -> NFC
		"":                       "",
		"Marie\tDupont":          "!",
		"Marie\r\nBcc: x":        "!",
		"Marie\u2028Dupont":      "!",
		"Marie\u202eDupont":      "!",
		"\u200bMarie":            "!",
		strings.Repeat("a", 201): "!",
	} {
		got, err := NormalizeName(in)
		if want == "!" {
			if err == nil {
				t.Errorf("%q accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
}

// TestBelowCombiningMarksIsNFC: normalizeName skips the composition of a
// name whose characters are all below U+0300; any two such characters
// together are NFC already.
func TestBelowCombiningMarksIsNFC(t *testing.T) {
	for r := rune(0x20); r < 0x300; r++ {
		for r2 := rune(0x20); r2 < 0x300; r2++ {
			if s := string(r) + string(r2); !norm.NFC.IsNormalString(s) {
				t.Fatalf("%U %U is not NFC", r, r2)
			}
		}
	}
	for in, want := range map[string]string{"Zoé Œuvre": "Zoé Œuvre", "Zoe\u0301": "Zoé", "Ÿvette": "Ÿvette"} {
		if got, err := NormalizeName(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}

func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]breach.Language{
		"": breach.French, "fr": breach.French, "FR": breach.French, "fr_FR": breach.French, "Français": breach.French,
		"en": breach.English, "en-GB": breach.English, "English": breach.English, "de": "", "f": "",
	} {
		got, err := NormalizeLanguage(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q accepted", in)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q %v", in, got, err)
		}
	}
}

func TestOversizeRecordIsNotKeptInMemory(t *testing.T) {
	// One huge unquoted field of 4 MB: rejected as oversize, and the next
	// row still reads.
	in := header + "a@example.org," + strings.Repeat("x", 4<<20) + ",B,,,\nb@example.org,A,B,,,\n"
	res := read(t, in, CSV)
	if res.fatal != nil || len(res.rejects) != 1 || res.rejects[0].Line != 2 || len(res.people) != 1 || res.people[0].Line != 3 {
		t.Fatalf("%+v", res.rejects)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	s := header + "a@example.org,A,B,,,\n"
	f.n--
	return copy(p, s), nil
}

func TestReadErrorsStopReading(t *testing.T) {
	r, err := NewReader(&failingReader{n: 1}, CSV)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Next()
	if err != nil || p.Email != "a@example.org" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("read error: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after a fatal error: %v", err)
	}
}

// TestDotAtomAgreesWithNetMail: the fast path accepts only what net/mail
// accepts, unchanged.
func TestDotAtomAgreesWithNetMail(t *testing.T) {
	alphabet := "aZ09.!#$%&'*+-/=?^_`{|}~\"(),:;<>@[\\] é"
	rng := uint64(1)
	next := func() int {
		rng = rng*6364136223846793005 + 1442695040888963407
		return int(rng >> 33)
	}
	for i := 0; i < 200000; i++ {
		n := 1 + next()%12
		b := make([]byte, 0, n)
		for len(b) < n {
			b = append(b, alphabet[next()%len(alphabet)])
		}
		local := string(b)
		if !isDotAtom(local) {
			continue
		}
		addr := local + "@example.org"
		parsed, err := mail.ParseAddress(addr)
		if err != nil || parsed.Name != "" || parsed.Address != addr {
			t.Fatalf("%q: fast path accepts, net/mail says %v %+v", addr, err, parsed)
		}
	}
}
