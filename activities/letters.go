package activities

import (
	"context"
	"errors"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// SaveLetter checks the fields against the incident, computes the content
// hash of the version (the rendering for the preview person) and stores it as
// the next version of the letter in its language.
func (a *Activities) SaveLetter(ctx context.Context, in SaveLetterInput) (LetterRef, error) {
	var ref LetterRef
	err := a.do(ctx, "save letter", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		if a.Letters == nil {
			return nil, errors.New("no letter renderer configured")
		}
		if in.Fields.Language != in.Language {
			return nil, breach.Invalid("fields.language", "must be the letter's language %q", in.Language)
		}
		slot, err := tx.PrepareLetter(ctx, in.Actor, in.IncidentID, in.Language, in.BaseVersion)
		if err != nil {
			return nil, err
		}
		if err := in.Fields.ValidateFor(slot.Incident.IncidentInput); err != nil {
			return nil, err
		}
		hash := a.Letters.ContentHash(slot.Incident, in.Fields, slot.Version)
		l, err := tx.SaveLetterVersion(ctx, in.Actor, slot, in.Fields, hash)
		if err != nil {
			return nil, err
		}
		return letterRef(l), nil
	})
	return ref, err
}

func letterRef(l breach.LetterVersion) LetterRef {
	return LetterRef{ID: l.ID, Language: l.Language, Version: l.Version, DraftedBy: l.DraftedBy, EditedBy: l.EditedBy, ContentHash: l.ContentHash}
}

// DecideLetter approves a letter version or sends it back.
func (a *Activities) DecideLetter(ctx context.Context, in DecideLetterInput) error {
	return a.do(ctx, "decide letter", in.OpKey, in.RunID, in.IncidentID, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		l, err := tx.DecideLetter(ctx, in.Actor, in.IncidentID, in.LetterID, in.Approve, in.Comment)
		if err != nil {
			return nil, err
		}
		return map[string]any{"letter_id": l.ID, "state": l.State}, nil
	})
}
