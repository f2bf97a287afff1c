package web

import (
	"strings"
	"testing"

	webui "github.com/breach-engine/breach/templates/web"
)

func join(chunks []webui.Chunk, op int) (all, marked string) {
	var a, m strings.Builder
	for _, c := range chunks {
		a.WriteString(c.Text)
		if c.Op == op {
			m.WriteString("[" + c.Text + "]")
		}
	}
	return a.String(), m.String()
}

func TestDiffWords(t *testing.T) {
	for _, c := range []struct {
		a, b     string
		del, ins string
	}{
		{"Compte désactivé.", "Compte désactivé, journaux conservés.", "", "[, journaux conservés]"},
		{"le chat dort", "le chien dort", "[chat]", "[chien]"},
		{"same", "same", "", ""},
		{"", "new text", "", "[new text]"},
		{"old text", "", "[old text]", ""},
		{"a b c d", "a c d e", "[b ]", "[ e]"},
	} {
		left, right := diffWords(c.a, c.b)
		a, del := join(left, -1)
		b, ins := join(right, 1)
		if a != c.a || b != c.b {
			t.Errorf("%q -> %q: the sides do not rebuild the texts: %q, %q", c.a, c.b, a, b)
		}
		if del != c.del || ins != c.ins {
			t.Errorf("%q -> %q: deleted %s inserted %s, want %s and %s", c.a, c.b, del, ins, c.del, c.ins)
		}
		for _, ch := range left {
			if ch.Op > 0 {
				t.Errorf("insertion on the left side")
			}
		}
		for _, ch := range right {
			if ch.Op < 0 {
				t.Errorf("deletion on the right side")
			}
		}
	}
}

// TestDiffLongTexts: texts too long to compare word by word fall back to
// lines, and the sides still rebuild the texts.
func TestDiffLongTexts(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 3000; i++ {
		line := strings.Repeat("mot ", 5) + string(rune('a'+i%26)) + "\n"
		a.WriteString(line)
		if i%100 == 0 {
			b.WriteString("ligne ajoutée\n")
		}
		b.WriteString(line)
	}
	left, right := diffWords(a.String(), b.String())
	la, _ := join(left, -1)
	rb, ins := join(right, 1)
	if la != a.String() || rb != b.String() {
		t.Fatal("sides do not rebuild the texts")
	}
	if strings.Count(ins, "ligne ajoutée") != 30 {
		t.Errorf("inserted lines: %d", strings.Count(ins, "ligne ajoutée"))
	}
}

func TestTokenize(t *testing.T) {
	got := strings.Join(tokenize("L'accès, ré-initialisé  hier."), "|")
	if got != "L'accès|,| |ré-initialisé|  |hier|." {
		t.Errorf("tokenize: %s", got)
	}
}
