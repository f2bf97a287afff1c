// Package templates holds the templ components of the engine: the regulator
// dossier (French and English) and, later, letters and web pages. Components
// are pure functions of a view model built by a pure function from the input.
package templates

// Generated files are made from the repository root with `make generate`
// (go tool templ generate), so that their recorded file names stay stable.

import (
	"bytes"
	"context"
	"fmt"

	"github.com/breach-engine/breach/activities"
)

// Dossiers renders regulator dossiers; it implements activities.DossierRenderer.
// It holds no state and reads no clock: the same input renders the same bytes,
// so the content hash of what is approved is the hash of what is filed.
type Dossiers struct{}

var _ activities.DossierRenderer = Dossiers{}

// RenderDossier renders the dossier as a standalone HTML document in the
// draft's language (fields.language: fr or en).
func (Dossiers) RenderDossier(ctx context.Context, in activities.DossierInput) ([]byte, error) {
	r, err := NewDossierRecord(in)
	if err != nil {
		return nil, err
	}
	return renderRecord(ctx, r)
}

func renderRecord(ctx context.Context, r DossierRecord) ([]byte, error) {
	var buf bytes.Buffer
	if err := dossierPage(r).Render(ctx, &buf); err != nil {
		return nil, fmt.Errorf("render dossier: %w", err)
	}
	return buf.Bytes(), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DossierRecord is the JSON export of the dossier: DossierJSON, as the
// activities' renderer interface asks for it.
func (Dossiers) DossierRecord(_ context.Context, in activities.DossierInput) ([]byte, error) {
	return DossierJSON(in)
}
