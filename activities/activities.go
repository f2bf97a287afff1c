// Package activities holds the side effects of the incident workflows: every
// method writes to Postgres in one transaction together with its audit row.
package activities

import (
	"context"
	"log/slog"

	"github.com/breach-engine/breach/internal/store"
)

// Activities is registered on the worker; workflows call its methods by value.
type Activities struct {
	Store    *store.Store
	Dossiers DossierRenderer
	Logger   *slog.Logger
}

// RecordAssessment computes the engine's proposal from the stored facts and
// keeps it with the DPO's decision and reason.
func (a *Activities) RecordAssessment(ctx context.Context, in AssessInput) (AssessResult, error) {
	panic("unimplemented")
}

// ChangeAwareAt moves the incident's awareness time, auditing before and after.
func (a *Activities) ChangeAwareAt(ctx context.Context, in ChangeAwareAtInput) error {
	panic("unimplemented")
}

// SaveDraft renders the dossier from the incident and the drafter's fields and
// stores it as the next version of the draft.
func (a *Activities) SaveDraft(ctx context.Context, in SaveDraftInput) (DraftRef, error) {
	panic("unimplemented")
}

// DecideDraft approves a draft version or sends it back.
func (a *Activities) DecideDraft(ctx context.Context, in DecideDraftInput) error {
	panic("unimplemented")
}

// RecordFiling records the filing of an approved version with its receipt reference.
func (a *Activities) RecordFiling(ctx context.Context, in FilingInput) (string, error) {
	panic("unimplemented")
}

// RecordAlarm records a deadline reminder or escalation in the audit log.
func (a *Activities) RecordAlarm(ctx context.Context, in AlarmInput) error {
	panic("unimplemented")
}

// CloseIncident freezes the incident's register entry with the closing summary.
func (a *Activities) CloseIncident(ctx context.Context, in CloseInput) error {
	panic("unimplemented")
}
