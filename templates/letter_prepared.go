package templates

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/a-h/templ"

	"github.com/breach-engine/breach/internal/breach"
)

// PreparedLetter is an approved letter version rendered once for a whole
// population: every letter differs only by the greeting's name, so Render
// splices the person's greeting into the bytes rendered around it. Its output
// is byte for byte what RenderLetter gives for the same input (the tests hold
// it to that); it costs a few microseconds instead of a full rendering.
type PreparedLetter struct {
	subject            string
	greeting, plain    string // the greeting's format (%s: the name) and the greeting without a name
	htmlHead, htmlTail []byte // the HTML around the greeting's (escaped) text
	textTail           []byte // the text part after the greeting's paragraph
}

// greetingMark stands for the greeting while the letter is prepared: one
// word (the text part's wrapping keeps it whole) that templ does not escape.
const greetingMark = "GREETINGd41d8cd98f00b204e9800998ecf8427eMARK"

// Prepare renders the letter once for Render to complete per person. It
// fails like RenderLetter when the fields do not validate.
func (Letters) Prepare(ctx context.Context, incident breach.Incident, fields breach.LetterFields, version int) (*PreparedLetter, error) {
	v, err := NewLetterView(LetterInput{Incident: incident, Fields: fields, Version: version})
	if err != nil {
		return nil, err
	}
	l, _ := letterLabelsFor(v.Language)
	v.Greeting = greetingMark
	r, err := renderLetterView(ctx, v)
	if err != nil {
		return nil, err
	}
	mark := []byte(">" + greetingMark + "<")
	if bytes.Count(r.HTML, []byte(greetingMark)) != 1 || bytes.Count(r.HTML, mark) != 1 {
		return nil, errors.New("prepare letter: the greeting is not where it is expected in the HTML")
	}
	i := bytes.Index(r.HTML, mark)
	textHead := []byte(wrap(greetingMark, "", "") + "\n")
	if !bytes.HasPrefix(r.Text, textHead) || bytes.Contains(r.Text[len(textHead):], []byte(greetingMark)) {
		return nil, errors.New("prepare letter: the greeting is not where it is expected in the text")
	}
	return &PreparedLetter{
		subject:  r.Subject,
		greeting: l.greeting, plain: l.greetingPlain,
		htmlHead: r.HTML[:i+1], htmlTail: r.HTML[i+len(mark)-1:],
		textTail: r.Text[len(textHead):],
	}, nil
}

// Render completes the letter for one person.
func (p *PreparedLetter) Render(r breach.Recipient) RenderedLetter {
	g := p.plain
	if name := cleanLine(r.Name, maxNameRunes); name != "" {
		g = fmt.Sprintf(p.greeting, name)
	}
	esc := templ.EscapeString(g)
	html := make([]byte, 0, len(p.htmlHead)+len(esc)+len(p.htmlTail))
	html = append(append(append(html, p.htmlHead...), esc...), p.htmlTail...)
	head := wrap(g, "", "") + "\n"
	text := make([]byte, 0, len(head)+len(p.textTail))
	text = append(append(text, head...), p.textTail...)
	return RenderedLetter{Subject: p.subject, HTML: html, Text: text}
}
