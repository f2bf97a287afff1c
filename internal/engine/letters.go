package engine

import (
	"context"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/templates"
)

// LetterRenderer renders the letters to the people with templates.Letters
// for the activities (the templates package depends on activities, so the
// activities declare what they need and the engine plugs it in).
type LetterRenderer struct{}

var _ activities.LetterRenderer = LetterRenderer{}

// RenderLetter renders one person's letter.
func (LetterRenderer) RenderLetter(ctx context.Context, in activities.LetterInput) (activities.RenderedLetter, error) {
	r, err := templates.Letters{}.RenderLetter(ctx, templates.LetterInput{
		Incident: in.Incident, Fields: in.Fields, Version: in.Version, Recipient: in.Recipient,
	})
	if err != nil {
		return activities.RenderedLetter{}, err
	}
	return activities.RenderedLetter{Subject: r.Subject, HTML: r.HTML, Text: r.Text}, nil
}

// ContentHash is templates.LetterContentHash.
func (LetterRenderer) ContentHash(incident breach.Incident, fields breach.LetterFields, version int) string {
	return templates.LetterContentHash(incident, fields, version)
}
