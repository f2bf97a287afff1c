package i18n

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// verbs lists the format verbs of a message, in order.
var verbRE = regexp.MustCompile(`%[0-9.]*[a-zA-Z%]`)

func TestCatalogueComplete(t *testing.T) {
	for _, key := range Keys() {
		fr, en, _ := Message(key)
		if strings.TrimSpace(fr) == "" || strings.TrimSpace(en) == "" {
			t.Errorf("%s: a language is missing (fr %q, en %q)", key, fr, en)
		}
		if a, b := verbRE.FindAllString(fr, -1), verbRE.FindAllString(en, -1); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%s: format verbs differ: fr %v, en %v", key, a, b)
		}
	}
	for en, fr := range fieldMessages {
		if fr == "" || en == "" {
			t.Errorf("field message %q has no French", en)
		}
	}
}

// TestEveryKeyUsedExists reads the pages and handlers for the keys they ask
// for: a key missing from the catalogue would show as itself.
func TestEveryKeyUsedExists(t *testing.T) {
	files, _ := filepath.Glob("../../../templates/web/*.templ")
	more, _ := filepath.Glob("../*.go")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found %d files to read", len(files))
	}
	keyRE := regexp.MustCompile(`\bT\("([a-z0-9_.]+)"`)
	codeRE := regexp.MustCompile(`Code\("([a-z]+)", "([a-z0-9_]+)"\)`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			seen++
			if strings.HasSuffix(m[1], ".") { // a prefix completed at run time
				continue
			}
			if !Has(m[1]) {
				t.Errorf("%s uses %q, not in the catalogue", filepath.Base(f), m[1])
			}
		}
		for _, m := range codeRE.FindAllStringSubmatch(string(b), -1) {
			if !Has(m[1] + "." + m[2]) {
				t.Errorf("%s uses code %s.%s, not in the catalogue", filepath.Base(f), m[1], m[2])
			}
		}
	}
	if seen < 100 {
		t.Errorf("only %d keys found: the pattern no longer matches", seen)
	}
	// Keys completed at run time.
	for _, k := range []string{"step.assess", "step.draft", "step.edit_draft", "step.revise", "step.decide", "step.file", "step.close",
		"lang.fr", "lang.en", "done.opened", "done.assessed", "done.closed", "done.draft_saved", "done.approved",
		"done.returned", "done.filed", "done.account_created", "done.account_disabled", "done.account_enabled"} {
		if !Has(k) {
			t.Errorf("missing %s", k)
		}
	}
	for _, f := range []string{"nature", "consequences", "measures_taken", "measures_proposed", "timeline", "delay_reasons", "notes"} {
		if !Has("field." + f) {
			t.Errorf("missing field.%s", f)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		pref, accept string
		want         Lang
	}{
		{"", "", FR},
		{"", "en-US,en;q=0.9", EN},
		{"", "de-DE,de;q=0.9,en;q=0.5", EN},
		{"", "en;q=0.4,fr;q=0.8", FR},
		{"", "de", FR},
		{"en", "fr", EN},
		{"fr", "en", FR},
		{"xx", "en", EN},
		{"", "en;q=0", FR},
	} {
		if got := Negotiate(c.pref, c.accept); got != c.want {
			t.Errorf("Negotiate(%q, %q) = %s, want %s", c.pref, c.accept, got, c.want)
		}
	}
}

func TestFormats(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 4, 0, 0, time.UTC)
	if got := FR.Time(at); got != "25/11/2026 10:04" {
		t.Errorf("FR.Time = %q", got)
	}
	if got := EN.Time(at); got != "25 Nov 2026 10:04" {
		t.Errorf("EN.Time = %q", got)
	}
	if got := EN.Remaining(at.Add(50*time.Hour+3*time.Minute), at); got != "2 d 2 h 03 min left" {
		t.Errorf("EN.Remaining = %q", got)
	}
	if got := FR.Remaining(at.Add(-90*time.Minute), at); got != "en retard de 1 h 30 min" {
		t.Errorf("FR.Remaining = %q", got)
	}
	if got := EN.Int(4800000); got != "4,800,000" {
		t.Errorf("EN.Int = %q", got)
	}
	if got := FR.Int(4800000); got != "4\u202f800\u202f000" {
		t.Errorf("FR.Int = %q", got)
	}
	if got := FR.Field("is in the future"); got != "est dans le futur" {
		t.Errorf("FR.Field = %q", got)
	}
	if got := FR.Field("unknown value; expected one of a, b"); got != "valeur inconnue" {
		t.Errorf("FR.Field prefix = %q", got)
	}
	if got := EN.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key = %q", got)
	}
	if got := FR.Code("risk", "high"); got != "Risque élevé" {
		t.Errorf("Code = %q", got)
	}
	if got := FR.Code("risk", "new_level"); got != "new_level" {
		t.Errorf("unknown code = %q", got)
	}
}
