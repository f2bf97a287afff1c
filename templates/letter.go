package templates

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/breach-engine/breach/internal/breach"
)

// The letter to the people concerned (GDPR Art. 34): an HTML body from templ
// (letter.templ) and a plain-text part from text/template (letter_text.tmpl),
// both pure functions of one LetterView, itself built by a pure function from
// the LetterInput. No clock, no I/O: the same input renders the same bytes.

// LetterInput is everything one letter is rendered from: the incident (its
// controller and DPO, its data categories), the approved fields in one
// language and their version, and the person it is addressed to.
type LetterInput struct {
	Incident  breach.Incident
	Fields    breach.LetterFields
	Version   int
	Recipient breach.Recipient
}

// RenderedLetter is one letter ready to be put in a message.
type RenderedLetter struct {
	Subject string
	HTML    []byte
	Text    []byte
}

// Letters renders letters to the people concerned. It holds no state.
type Letters struct{}

// LetterView is the letter as the person reads it: every text of both parts,
// in the letter's language, already cleaned (one-line name and subject,
// paragraphs without control characters). The HTML and text parts show
// exactly these strings.
type LetterView struct {
	Language     breach.Language
	Subject      string
	Organisation string
	Greeting     string
	Intro        string

	WhatHappened Block         // the nature of the breach, in plain words (Art. 34(2))
	Data         DataBlock     // the data concerned and not concerned
	Consequences Block         // Art. 33(3)(c)
	Measures     MeasuresBlock // Art. 33(3)(d)
	Advice       AdviceBlock   // what the person should do
	Contact      ContactBlock  // helpline and the DPO (Art. 33(3)(b))

	Closing   string
	Signature string
	NoLinks   string
	Reference string
}

// Block is a heading and its paragraphs.
type Block struct {
	Heading    string
	Paragraphs []string
}

// DataBlock lists the categories of data concerned and those not concerned.
type DataBlock struct {
	Heading           string
	ConcernedIntro    string
	Concerned         []string
	NotConcernedIntro string
	NotConcerned      []string // empty: every category is concerned
}

// MeasuresBlock is what the controller has done.
type MeasuresBlock struct {
	Heading       string
	PasswordReset string // the forced reset, in the letter's words; empty if not stated
	Paragraphs    []string
	Complaint     string // complaint filed, if said
	Authorities   string // authorities notified, if said
}

// AdviceBlock is what the person should do: the fixed advice, then the
// drafter's.
type AdviceBlock struct {
	Heading     string
	Passwords   string // change passwords reused elsewhere
	Phishing    string // beware of phishing that quotes the leaked data
	Statements  string // watch bank and health-insurance statements
	VictimsSite string // cybermalveillance.gouv.fr
	Extra       []string
}

// ContactBlock is whom to reach.
type ContactBlock struct {
	Heading    string
	Helpline   string // empty: no helpline
	DPOIntro   string
	EmailLabel string
	DPOEmail   string
	PhoneLabel string
	DPOPhone   string // empty: none given
	CNIL       string
}

// Limits on what comes from the recipient's row: generous, they only keep a
// malformed row from breaking the layout.
const maxNameRunes = 200

// NewLetterView builds the letter's view model. It is pure: no clock, no
// I/O. It fails when the fields do not validate (breach.LetterFields.Validate).
func NewLetterView(in LetterInput) (LetterView, error) {
	f := in.Fields
	if err := f.Validate(); err != nil {
		return LetterView{}, err
	}
	l, ok := letterLabelsFor(f.Language)
	if !ok { // Validate has checked it; kept for safety
		return LetterView{}, breach.Invalid("language", "unknown value; expected fr or en")
	}
	inc := in.Incident
	org := cleanLine(inc.Controller.Name, maxNameRunes)
	v := LetterView{
		Language:     l.lang,
		Subject:      cleanLine(f.Subject, 1000),
		Organisation: org,
		Intro:        fmt.Sprintf(l.intro, org),
		Closing:      l.closing,
		Signature:    org,
		NoLinks:      l.noLinks,
	}
	if name := cleanLine(in.Recipient.Name, maxNameRunes); name != "" {
		v.Greeting = fmt.Sprintf(l.greeting, name)
	} else {
		v.Greeting = l.greetingPlain
	}
	ref := cleanLine(inc.Reference, maxNameRunes)
	if ref == "" {
		ref = cleanLine(inc.ID, maxNameRunes)
	}
	v.Reference = fmt.Sprintf(l.reference, ref, in.Version)

	v.WhatHappened = Block{Heading: l.whatHappened, Paragraphs: paragraphs(f.WhatHappened)}

	concerned, notConcerned := breach.LetterDataCategories(inc.DataCategories)
	v.Data = DataBlock{
		Heading:           l.dataHead,
		ConcernedIntro:    l.concernedIntro,
		Concerned:         letterLabelList(concerned, l),
		NotConcernedIntro: l.notConcernedIntro,
		NotConcerned:      letterLabelList(notConcerned, l),
	}

	v.Consequences = Block{Heading: l.consequencesHead, Paragraphs: paragraphs(f.Consequences)}

	v.Measures = MeasuresBlock{
		Heading:     l.measuresHead,
		Paragraphs:  paragraphs(f.MeasuresTaken),
		Complaint:   cleanLine(f.ComplaintFiled, 2000),
		Authorities: cleanLine(f.AuthoritiesNotified, 2000),
	}
	if f.PasswordReset {
		v.Measures.PasswordReset = l.passwordReset
	}

	v.Advice = AdviceBlock{
		Heading:     l.adviceHead,
		Passwords:   fmt.Sprintf(l.advicePasswords, org),
		Phishing:    fmt.Sprintf(l.advicePhishing, org),
		Statements:  l.adviceStatements,
		VictimsSite: l.adviceVictimsSite,
		Extra:       paragraphs(f.Advice),
	}

	v.Contact = contactBlock(l, inc.Controller.DPO, f.Helpline, f.HelplineHours)
	return v, nil
}

// contactBlock is whom to reach (Art. 33(3)(b)): the helpline, if any, and
// the DPO; the notice's and the reminder's.
func contactBlock(l *letterLabels, dpo breach.Contact, helpline, hours string) ContactBlock {
	c := ContactBlock{
		Heading:    l.contactHead,
		DPOIntro:   fmt.Sprintf(l.dpoIntro, cleanLine(dpo.Name, maxNameRunes)),
		EmailLabel: l.email,
		DPOEmail:   cleanLine(dpo.Email, maxNameRunes),
		PhoneLabel: l.phone,
		DPOPhone:   cleanLine(dpo.Phone, maxNameRunes),
		CNIL:       l.complainCNIL,
	}
	if phone := cleanLine(helpline, maxNameRunes); phone != "" {
		if hours := cleanLine(hours, maxNameRunes); hours != "" {
			c.Helpline = fmt.Sprintf(l.helplineHours, phone, hours)
		} else {
			c.Helpline = fmt.Sprintf(l.helpline, phone)
		}
	}
	return c
}

func letterLabelList(cats []breach.DataCategory, l *letterLabels) []string {
	out := make([]string, 0, len(cats))
	for _, c := range cats {
		out = append(out, label(l.dataCategory, c))
	}
	return out
}

// RenderLetter renders the letter for one person: the subject, the HTML body
// and the plain-text part. The same input renders the same bytes.
func (Letters) RenderLetter(ctx context.Context, in LetterInput) (RenderedLetter, error) {
	v, err := NewLetterView(in)
	if err != nil {
		return RenderedLetter{}, err
	}
	return renderLetterView(ctx, v)
}

func renderLetterView(ctx context.Context, v LetterView) (RenderedLetter, error) {
	var h bytes.Buffer
	if err := letterHTML(v).Render(ctx, &h); err != nil {
		return RenderedLetter{}, fmt.Errorf("render letter html: %w", err)
	}
	var t bytes.Buffer
	if err := letterText.Execute(&t, v); err != nil {
		return RenderedLetter{}, fmt.Errorf("render letter text: %w", err)
	}
	return RenderedLetter{Subject: v.Subject, HTML: h.Bytes(), Text: t.Bytes()}, nil
}

// PreviewRecipient is a synthetic person to preview a letter with, in the
// given language (French for any other value). It is also the person the
// content hash is computed for.
func PreviewRecipient(lang breach.Language) breach.Recipient {
	if lang == breach.English {
		return breach.Recipient{PersonID: 0, Email: "alex.taylor@person.example", Name: "Alex Taylor", Language: breach.English}
	}
	return breach.Recipient{PersonID: 0, Email: "camille.martin@personne.example", Name: "Camille Martin", Language: breach.French}
}

// LetterContentHash is the hash of an approved letter version's content,
// stored on every ledger row as "what was approved".
//
// It is computed on the rendering itself, for PreviewRecipient(fields.Language),
// the person the approver previews the letter with: the hex SHA-256 of a
// domain tag followed by the subject, the HTML and the text, each prefixed by
// its length (8 bytes, big-endian). Hashing the rendering rather than the
// fields catches a change of the letter's fixed text or layout as well: a
// sender that recomputes it before sending and finds another value knows that
// what it would send is no longer what was approved. The letters sent differ
// from the preview only by the greeting's name.
//
// It returns "" when the letter cannot be rendered (fields that do not
// validate), which no approved version has.
func LetterContentHash(incident breach.Incident, fields breach.LetterFields, version int) string {
	r, err := Letters{}.RenderLetter(context.Background(), LetterInput{
		Incident: incident, Fields: fields, Version: version, Recipient: PreviewRecipient(fields.Language),
	})
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("breach/letter/v1\n"))
	for _, part := range [][]byte{[]byte(r.Subject), r.HTML, r.Text} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cleanLine makes s one safe line: invalid UTF-8 replaced, control characters
// (CR and LF among them) and line or paragraph separators turned into spaces,
// invisible bidirectional and zero-width format characters removed, runs of
// spaces collapsed, ends trimmed, and at most max runes kept. Names come from
// imported files: whatever they hold, they stay on the greeting's line.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space, n := false, 0
	for _, r := range s {
		switch {
		case invisible(r):
			continue
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (unicode.IsSpace(r) && r != '\u00a0' && r != '\u202f'):
			space = b.Len() > 0
			continue
		}
		if n >= max {
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// invisible reports format characters that can reorder or hide text: the
// bidirectional controls and zero-width characters.
func invisible(r rune) bool {
	switch {
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069',
		r == '\u200e', r == '\u200f', r == '\u061c',
		r >= '\u200b' && r <= '\u200d', r == '\u2060', r == '\ufeff':
		return true
	}
	return false
}

// paragraphs splits a drafter's text into paragraphs: one per non-blank line,
// each cleaned like a line.
func paragraphs(s string) []string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	out := []string{}
	for _, line := range strings.Split(s, "\n") {
		if p := cleanLine(line, maxLetterText); p != "" {
			out = append(out, p)
		}
	}
	return out
}

const maxLetterText = 50_000

// The plain-text part.

//go:embed letter_text.tmpl
var letterTextSource string

// textWidth is where the plain-text part wraps its lines.
const textWidth = 72

var letterText = template.Must(template.New("letter_text.tmpl").Funcs(template.FuncMap{
	"para":    func(s string) string { return wrap(s, "", "") + "\n" },
	"item":    func(s string) string { return wrap(s, "  - ", "    ") },
	"line":    func(s string) string { return wrap(s, "", "") },
	"indent":  func(s string) string { return wrap(s, "  ", "    ") },
	"heading": heading,
}).Parse(letterTextSource))

// heading underlines a heading: "What happened\n=============\n\n".
func heading(s string) string {
	return s + "\n" + strings.Repeat("=", utf8.RuneCountInString(s)) + "\n\n"
}

// wrap breaks s into lines of at most textWidth runes at ASCII spaces only
// (no-break spaces hold), the first line prefixed by first and the others by
// rest; a word longer than a line stays whole on its own line. Every line ends
// with "\n".
func wrap(s, first, rest string) string {
	var b strings.Builder
	prefix := first
	line, lineLen := "", 0
	flush := func() {
		b.WriteString(prefix)
		b.WriteString(line)
		b.WriteByte('\n')
		prefix, line, lineLen = rest, "", 0
	}
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		wl := utf8.RuneCountInString(w)
		switch {
		case lineLen == 0:
			line, lineLen = w, wl
		case utf8.RuneCountInString(prefix)+lineLen+1+wl <= textWidth:
			line += " " + w
			lineLen += 1 + wl
		default:
			flush()
			line, lineLen = w, wl
		}
	}
	if lineLen > 0 || b.Len() == 0 {
		flush()
	}
	return b.String()
}
