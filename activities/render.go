package activities

import (
	"context"

	"github.com/breach-engine/breach/internal/breach"
)

// DossierInput is everything a regulator dossier is rendered from.
type DossierInput struct {
	Incident   breach.Incident          `json:"incident"`
	Assessment *breach.AssessmentRecord `json:"assessment,omitempty"`
	Key        breach.DraftKey          `json:"key"`
	Version    int                      `json:"version"`
	Fields     breach.DraftFields       `json:"fields"`
	Filings    []breach.Filing          `json:"filings"` // earlier filings of the incident
}

// DossierRenderer renders a regulator dossier as HTML (templ). The same input
// always renders the same bytes: the content hash of what is approved is the
// content hash of what is filed.
type DossierRenderer interface {
	RenderDossier(ctx context.Context, in DossierInput) ([]byte, error)
	// DossierRecord is the JSON export of exactly what RenderDossier shows.
	DossierRecord(ctx context.Context, in DossierInput) ([]byte, error)
}
