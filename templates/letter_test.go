package templates

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/breach-engine/breach/internal/breach"
)

// The letters of the fixture incident (fixture_test.go): a public employment
// agency whose job-seeker records leaked.

func letterFieldsFR() breach.LetterFields {
	return breach.LetterFields{
		Language: breach.French,
		Subject:  "Information importante sur la sécurité de vos données personnelles",
		WhatHappened: "Entre le 3 et le 21 novembre 2026, une personne malveillante a utilisé le compte d'un conseiller " +
			"d'un organisme partenaire pour consulter des dossiers de demandeurs d'emploi et en copier le contenu.\n" +
			"Votre dossier fait partie des dossiers copiés.",
		Consequences: "Des fraudeurs pourraient utiliser ces informations pour vous adresser des messages frauduleux " +
			"crédibles (hameçonnage) ou tenter d'usurper votre identité.",
		MeasuresTaken: "Nous avons bloqué le compte utilisé par l'attaquant dès la découverte de l'incident et renforcé " +
			"le contrôle des accès de nos partenaires.",
		PasswordReset:       true,
		Advice:              "Ne communiquez jamais vos codes de connexion, même à une personne qui se présente comme un conseiller.",
		Helpline:            "09 70 00 00 00",
		HelplineHours:       "du lundi au vendredi, de 9 h à 18 h",
		ComplaintFiled:      "Nous avons déposé plainte auprès du procureur de la République le 22 novembre 2026.",
		AuthoritiesNotified: "Nous avons notifié l'incident à la CNIL et à l'ANSSI.",
	}
}

func letterFieldsEN() breach.LetterFields {
	return breach.LetterFields{
		Language: breach.English,
		Subject:  "Important information about the security of your personal data",
		WhatHappened: "Between 3 and 21 November 2026, someone used the account of an adviser at one of our partner " +
			"organisations to look up job seekers' records and copy them.\nYour record is among those copied.",
		Consequences: "Fraudsters could use this information to send you convincing fake messages (phishing) or " +
			"try to impersonate you.",
		MeasuresTaken:       "We blocked the account used by the attacker as soon as we found out and tightened our partners' access controls.",
		PasswordReset:       true,
		Helpline:            "+33 9 70 00 00 00",
		ComplaintFiled:      "We have filed a complaint with the public prosecutor on 22 November 2026.",
		AuthoritiesNotified: "We have notified the CNIL and ANSSI.",
	}
}

func letterInputFR() LetterInput {
	return LetterInput{
		Incident:  fixtureIncident(),
		Fields:    letterFieldsFR(),
		Version:   3,
		Recipient: breach.Recipient{PersonID: 42, Email: "marie.dupont@personne.example", Name: "Marie-Hélène Dupont", Language: breach.French},
	}
}

func letterInputEN() LetterInput {
	in := letterInputFR()
	in.Fields = letterFieldsEN()
	in.Version = 4
	in.Recipient = breach.Recipient{PersonID: 43, Email: "john.smith@person.example", Name: "John O'Smith", Language: breach.English}
	return in
}

var letterCases = []struct {
	name string
	in   func() LetterInput
}{
	{"letter_fr", letterInputFR},
	{"letter_en", letterInputEN},
}

func renderLetter(t *testing.T, in LetterInput) RenderedLetter {
	t.Helper()
	r, err := Letters{}.RenderLetter(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLetterGolden compares each letter, HTML and text, with its golden file;
// `go test ./templates -update` rewrites them.
func TestLetterGolden(t *testing.T) {
	for _, c := range letterCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderLetter(t, c.in())
			golden(t, filepath.Join("testdata", c.name+".golden.html"), r.HTML)
			golden(t, filepath.Join("testdata", c.name+".golden.txt"), r.Text)
			if r.Subject != c.in().Fields.Subject {
				t.Errorf("subject %q", r.Subject)
			}
		})
	}
}

func TestLetterDeterministic(t *testing.T) {
	for _, c := range letterCases {
		a, b := renderLetter(t, c.in()), renderLetter(t, c.in())
		if !bytes.Equal(a.HTML, b.HTML) || !bytes.Equal(a.Text, b.Text) || a.Subject != b.Subject {
			t.Errorf("%s: two renderings differ", c.name)
		}
		in := c.in()
		if h1, h2 := LetterContentHash(in.Incident, in.Fields, in.Version), LetterContentHash(in.Incident, in.Fields, in.Version); h1 != h2 || len(h1) != 64 {
			t.Errorf("%s: content hash %q then %q", c.name, h1, h2)
		}
	}
}

// letterText is what the text part holds, with its lines joined back: the
// wrapping must not hide an element from a test that looks for a sentence.
func unwrapped(text []byte) string {
	s := string(text)
	s = strings.ReplaceAll(s, "\n    ", " ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// TestLetterHoldsEveryRequiredElement checks Art. 34(2) and issue 3 item 2 in
// both languages and both parts: what happened, the data concerned and not
// concerned, the consequences, what was done (the forced password reset), the
// advice (reused passwords, phishing, bank and health-insurance statements,
// cybermalveillance.gouv.fr), the helpline, the complaint and authorities, and
// the DPO's contact.
func TestLetterHoldsEveryRequiredElement(t *testing.T) {
	want := map[string]map[string][]string{
		"letter_fr": {
			"greeting":            {"Bonjour Marie-Hélène Dupont,"},
			"intro":               {"Agence publique pour l'emploi de Valmont (fictive)"},
			"what-happened":       {"Ce qui s'est passé", "Votre dossier fait partie des dossiers copiés."},
			"data-concerned":      {"Votre identité", "Vos coordonnées", "Vos identifiants de connexion", "Des informations sur votre santé", "Votre parcours professionnel"},
			"data-not-concerned":  {"Vos données bancaires et financières", "Vos numéros officiels", "données de localisation"},
			"consequences":        {"hameçonnage"},
			"password-reset":      {"réinitialisé le mot de passe de tous les comptes"},
			"measures":            {"bloqué le compte utilisé par l'attaquant"},
			"complaint":           {"déposé plainte"},
			"authorities":         {"CNIL et à l'ANSSI"},
			"advice-passwords":    {"même mot de passe", "changez-le"},
			"advice-phishing":     {"Méfiez-vous", "citent vos informations personnelles", "ne vous demandera jamais votre mot de passe"},
			"advice-statements":   {"relevés bancaires", "Assurance Maladie"},
			"advice-victims-site": {"cybermalveillance.gouv.fr"},
			"advice-extra":        {"Ne communiquez jamais vos codes"},
			"helpline":            {"09 70 00 00 00", "du lundi au vendredi"},
			"dpo":                 {"délégué à la protection des données", "Julien Marchal"},
			"dpo-email":           {"dpo@emploi-valmont.example"},
			"dpo-phone":           {"+33 1 23 45 67 89"},
			"cnil":                {"réclamation à la CNIL"},
			"reference":           {"VIOL-2026-017", "Version 3"},
			"no-links":            {"aucun lien"},
		},
		"letter_en": {
			"greeting":            {"Dear John O'Smith,"},
			"what-happened":       {"What happened", "Your record is among those copied."},
			"data-concerned":      {"Your identity", "Your contact details", "Your sign-in details", "Information about your health", "Your career"},
			"data-not-concerned":  {"Your bank and financial details", "Your official numbers"},
			"consequences":        {"phishing"},
			"password-reset":      {"reset the password of every account"},
			"measures":            {"blocked the account"},
			"complaint":           {"filed a complaint"},
			"authorities":         {"notified the CNIL and ANSSI"},
			"advice-passwords":    {"same password", "change it"},
			"advice-phishing":     {"Be wary", "quote your personal details", "will never ask for your password"},
			"advice-statements":   {"bank statements", "health-insurance reimbursement statements"},
			"advice-victims-site": {"cybermalveillance.gouv.fr"},
			"helpline":            {"+33 9 70 00 00 00"},
			"dpo":                 {"data protection officer", "Julien Marchal"},
			"dpo-email":           {"dpo@emploi-valmont.example"},
			"dpo-phone":           {"+33 1 23 45 67 89"},
			"cnil":                {"complain to the CNIL"},
			"reference":           {"VIOL-2026-017", "Version 4"},
		},
	}
	for _, c := range letterCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderLetter(t, c.in())
			f, root := fields(t, r.HTML)
			text := unwrapped(r.Text)
			for field, parts := range want[c.name] {
				got := strings.Join(f[field], "\n")
				if got == "" {
					t.Errorf("no element data-field=%q", field)
					continue
				}
				for _, part := range parts {
					if !strings.Contains(got, part) {
						t.Errorf("HTML data-field=%q is %q; want it to contain %q", field, got, part)
					}
					if !strings.Contains(text, part) {
						t.Errorf("the text part lacks %q (%s)", part, field)
					}
				}
			}
			if lang := attr(find(root, "html"), "lang"); lang != string(c.in().Fields.Language) {
				t.Errorf("<html lang=%q>", lang)
			}
			// Both parts are made from one view: every paragraph, list item
			// and line of the text part is in the HTML, once whitespace is
			// normalised.
			htmlText := strings.Join(strings.Fields(textOf(root)), " ")
			for _, unit := range textUnits(r.Text) {
				if !strings.Contains(htmlText, unit) {
					t.Errorf("text part says %q, the HTML does not", unit)
				}
			}
		})
	}
}

// textUnits splits a text part into what it says: paragraphs and list items
// with their wrapped lines joined, without headings' underlines or the
// footer's rule.
func textUnits(text []byte) []string {
	var units []string
	cur := ""
	flush := func() {
		if u := strings.Join(strings.Fields(cur), " "); u != "" {
			units = append(units, u)
		}
		cur = ""
	}
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case line == "" || strings.Trim(line, "=") == "" || line == "----":
			flush()
		case strings.HasPrefix(line, "    "):
			cur += " " + line
		case strings.HasPrefix(line, "  - "):
			flush()
			cur = strings.TrimPrefix(line, "  - ")
		case strings.HasPrefix(line, "  "):
			flush()
			cur = line
		default:
			cur += " " + line // a paragraph's lines
		}
	}
	flush()
	return units
}

// TestLetterIsSimpleStandaloneHTML: no script, no table, no <style> block, no
// link and no resource to load; every style is inline.
func TestLetterIsSimpleStandaloneHTML(t *testing.T) {
	for _, c := range letterCases {
		r := renderLetter(t, c.in())
		root, err := html.Parse(bytes.NewReader(r.HTML))
		if err != nil {
			t.Fatal(err)
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script", "table", "style", "link", "img", "iframe", "object", "embed", "form", "a", "base":
					t.Errorf("%s: <%s> in the letter", c.name, n.Data)
				}
				for _, a := range n.Attr {
					if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") || a.Key == "class" {
						t.Errorf("%s: attribute %s on <%s>", c.name, a.Key, n.Data)
					}
					if a.Key == "style" && (strings.Contains(a.Val, "url(") || strings.Contains(a.Val, "@import")) {
						t.Errorf("%s: style loads a resource: %q", c.name, a.Val)
					}
				}
			}
			for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
				walk(ch)
			}
		}
		walk(root)
		if !bytes.HasPrefix(r.HTML, []byte("<!doctype html>")) && !bytes.HasPrefix(r.HTML, []byte("<!DOCTYPE html>")) {
			t.Errorf("%s: no doctype", c.name)
		}
		if !utf8.Valid(r.HTML) || !utf8.Valid(r.Text) {
			t.Errorf("%s: not UTF-8", c.name)
		}
		for i, line := range strings.Split(string(r.Text), "\n") {
			if n := utf8.RuneCountInString(line); n > textWidth {
				t.Errorf("%s: text line %d has %d runes: %q", c.name, i+1, n, line)
			}
		}
	}
}

// TestLetterNamesCannotBreakStructure: a name from an imported file holding
// CR, LF, HTML, bidirectional controls or invalid UTF-8 stays one escaped line
// of the greeting in both parts.
func TestLetterNamesCannotBreakStructure(t *testing.T) {
	evil := []string{
		"Eve\r\nBcc: everyone@example.org",
		"<script>alert(1)</script><a href=\"https://evil.example\">cliquez</a>",
		"Mallory\n\nCliquez ici : https://evil.example/reset\n",
		"\u202eEve\u202c \u200bZero\tTab\x00Nul\x1b[31m",
		"Bad \xff\xfe UTF-8",
		"\" onload=\"alert(1)",
		strings.Repeat("Long ", 500),
	}
	for _, lang := range []breach.Language{breach.French, breach.English} {
		for _, name := range evil {
			in := letterInputFR()
			if lang == breach.English {
				in = letterInputEN()
			}
			in.Recipient.Name = name
			r := renderLetter(t, in)
			f, root := fields(t, r.HTML)
			if got := f["greeting"]; len(got) != 1 || strings.ContainsAny(got[0], "\r\n\t\x00\x1b\u202e\u200b") {
				t.Errorf("%q: greeting %q", name, got)
			}
			if find(root, "script") != nil || find(root, "a") != nil || findAttr(root, "onload", "alert(1)") != nil {
				t.Errorf("%q: the name became markup", name)
			}
			if bytes.Contains(r.HTML, []byte("<script>")) || bytes.Contains(r.HTML, []byte("<a ")) {
				t.Errorf("%q: unescaped markup in the HTML", name)
			}
			// The text part: the greeting is its first paragraph, alone, and
			// the rest of the letter is unchanged.
			ref := renderLetter(t, func() LetterInput { i := in; i.Recipient.Name = "X"; return i }())
			_, restRef, _ := strings.Cut(string(ref.Text), "\n\n")
			first, rest, _ := strings.Cut(string(r.Text), "\n\n")
			if rest != restRef {
				t.Errorf("%q: the name changed the text part beyond the greeting", name)
			}
			if strings.Contains(first, "\n\n") || strings.ContainsAny(first, "\r\x00\x1b\u202e") {
				t.Errorf("%q: greeting in the text part %q", name, first)
			}
			// Likewise the HTML outside the greeting's paragraph.
			if stripGreeting(t, ref.HTML) != stripGreeting(t, r.HTML) {
				t.Errorf("%q: the name changed the HTML beyond the greeting", name)
			}
			if !utf8.Valid(r.HTML) || !utf8.Valid(r.Text) {
				t.Errorf("%q: output not UTF-8", name)
			}
		}
	}
}

// stripGreeting empties the greeting's paragraph, as written (escaped).
func stripGreeting(t *testing.T, doc []byte) string {
	t.Helper()
	const open = `data-field="greeting">`
	s := string(doc)
	i := strings.Index(s, open)
	if i < 0 {
		t.Fatal("no greeting")
	}
	s = s[i+len(open):]
	j := strings.Index(s, "</p>")
	if j < 0 {
		t.Fatal("greeting not closed")
	}
	return string(doc[:len(doc)-len(s)]) + s[j:]
}

func TestLetterGreetingWithoutName(t *testing.T) {
	in := letterInputEN()
	in.Recipient.Name = " \r\n "
	f, _ := fields(t, renderLetter(t, in).HTML)
	if got := f["greeting"]; len(got) != 1 || got[0] != "Hello," {
		t.Errorf("greeting %q", got)
	}
}

func TestLetterOptionalLines(t *testing.T) {
	in := letterInputFR()
	in.Fields.PasswordReset = false
	in.Fields.Helpline, in.Fields.HelplineHours = "", ""
	in.Fields.ComplaintFiled, in.Fields.AuthoritiesNotified, in.Fields.Advice = "", "", ""
	in.Incident.Controller.DPO.Phone = ""
	in.Incident.DataCategories = breach.DataCategories // everything: nothing left unconcerned
	r := renderLetter(t, in)
	f, _ := fields(t, r.HTML)
	for _, field := range []string{"password-reset", "helpline", "complaint", "authorities", "advice-extra", "dpo-phone", "data-not-concerned"} {
		if len(f[field]) != 0 {
			t.Errorf("data-field=%q present: %q", field, f[field])
		}
	}
	if strings.Contains(string(r.Text), "ne sont pas concernées") || strings.Contains(string(r.Text), "Téléphone\u00a0:") {
		t.Errorf("text part shows an absent line:\n%s", r.Text)
	}
}

func TestLetterRefusesInvalidFields(t *testing.T) {
	in := letterInputFR()
	in.Fields.Language = "de"
	_, err := Letters{}.RenderLetter(context.Background(), in)
	var e *breach.Error
	if !errors.As(err, &e) || e.Field != "language" {
		t.Errorf("unknown language: %v", err)
	}
	if h := LetterContentHash(in.Incident, in.Fields, in.Version); h != "" {
		t.Errorf("hash of an invalid letter: %q", h)
	}
	in = letterInputFR()
	in.Fields.WhatHappened = ""
	if _, err := (Letters{}).RenderLetter(context.Background(), in); !errors.As(err, &e) || e.Field != "what_happened" {
		t.Errorf("missing what_happened: %v", err)
	}
}

// TestLetterContentHash: the hash names the approved content, not the person:
// the same for every recipient, and different when anything a person reads
// changes (fields, version, the incident's data).
func TestLetterContentHash(t *testing.T) {
	in := letterInputFR()
	base := LetterContentHash(in.Incident, in.Fields, in.Version)
	r := renderLetter(t, LetterInput{Incident: in.Incident, Fields: in.Fields, Version: in.Version, Recipient: PreviewRecipient(breach.French)})
	if len(r.HTML) == 0 || base == "" {
		t.Fatal("no preview")
	}
	changes := map[string]func(*LetterInput){
		"subject":    func(i *LetterInput) { i.Fields.Subject += "." },
		"measures":   func(i *LetterInput) { i.Fields.MeasuresTaken += "." },
		"reset":      func(i *LetterInput) { i.Fields.PasswordReset = false },
		"version":    func(i *LetterInput) { i.Version++ },
		"categories": func(i *LetterInput) { i.Incident.DataCategories = i.Incident.DataCategories[1:] },
		"dpo":        func(i *LetterInput) { i.Incident.Controller.DPO.Email = "other@emploi-valmont.example" },
		"language":   func(i *LetterInput) { i.Fields = letterFieldsEN() },
	}
	for name, change := range changes {
		i := letterInputFR()
		change(&i)
		if h := LetterContentHash(i.Incident, i.Fields, i.Version); h == base || h == "" {
			t.Errorf("%s: hash %q unchanged or empty", name, h)
		}
	}
	// The recipient plays no part; nor do the incident's internal fields the
	// letter does not show.
	i := letterInputFR()
	i.Recipient.Name = "Someone Else"
	i.Incident.Description = "changed"
	if h := LetterContentHash(i.Incident, i.Fields, i.Version); h != base {
		t.Error("the hash depends on what the letter does not show")
	}
}

func TestPreviewRecipient(t *testing.T) {
	for _, lang := range []breach.Language{breach.French, breach.English} {
		p := PreviewRecipient(lang)
		if p.Language != lang || p.Name == "" || !strings.HasSuffix(p.Email, ".example") {
			t.Errorf("%s: %+v", lang, p)
		}
	}
	in := letterInputEN()
	in.Recipient = PreviewRecipient(breach.English)
	f, _ := fields(t, renderLetter(t, in).HTML)
	if got := f["greeting"]; len(got) != 1 || got[0] != "Dear Alex Taylor," {
		t.Errorf("preview greeting %q", got)
	}
}

func TestWrap(t *testing.T) {
	long := strings.Repeat("x", 100)
	cases := map[string]string{
		"":                          "\n",
		"short":                     "short\n",
		"a " + long + " b":          "a\n" + long + "\nb\n",
		"un\u00a0:\u00a0deux trois": "un\u00a0:\u00a0deux trois\n",
	}
	for in, want := range cases {
		if got := wrap(in, "", ""); got != want {
			t.Errorf("wrap(%q) = %q, want %q", in, got, want)
		}
	}
	got := wrap(strings.Repeat("mot ", 40), "  - ", "    ")
	for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if utf8.RuneCountInString(line) > textWidth || (i == 0) != strings.HasPrefix(line, "  - ") || (i > 0 && !strings.HasPrefix(line, "    mot")) {
			t.Errorf("line %d: %q", i, line)
		}
	}
}

func BenchmarkRenderLetter(b *testing.B) {
	in := letterInputFR()
	for i := 0; i < b.N; i++ {
		if _, err := (Letters{}).RenderLetter(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPreparedLetterIsRenderLetter: the prepared fast path gives exactly the
// bytes of a full rendering, whatever the name.
func TestPreparedLetterIsRenderLetter(t *testing.T) {
	names := []string{"", "Marie-Hélène Dupont", "John O'Smith", "Eve\r\nBcc: x@example.org", "<b>&amp;</b>",
		"\u202eEve", strings.Repeat("Long ", 60), "Bad \xff UTF-8", greetingMark}
	for _, c := range letterCases {
		in := c.in()
		p, err := Letters{}.Prepare(context.Background(), in.Incident, in.Fields, in.Version)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			in.Recipient.Name = name
			want, got := renderLetter(t, in), p.Render(in.Recipient)
			if got.Subject != want.Subject || !bytes.Equal(got.HTML, want.HTML) || !bytes.Equal(got.Text, want.Text) {
				t.Errorf("%s, %q: prepared letter differs:\n%s", c.name, name, firstDiff(string(want.HTML)+string(want.Text), string(got.HTML)+string(got.Text)))
			}
		}
	}
	bad := letterFieldsFR()
	bad.Subject = ""
	if _, err := (Letters{}).Prepare(context.Background(), fixtureIncident(), bad, 1); err == nil {
		t.Error("prepared an invalid letter")
	}
}

func BenchmarkPreparedLetter(b *testing.B) {
	in := letterInputFR()
	p, err := Letters{}.Prepare(context.Background(), in.Incident, in.Fields, in.Version)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		p.Render(in.Recipient)
	}
}
