// Package activities holds the side effects of the incident workflows: every
// method writes to Postgres in one transaction together with its audit row.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

// Activities is registered on the worker; workflows call its methods by value.
//
// Each method is one transaction (store.Do): it looks up in.OpKey and returns
// the stored result when the change was made already (Temporal runs an
// activity at least once), otherwise makes the change, appends its audit row
// and records the key with the result, then commits.
type Activities struct {
	Store    *store.Store
	Dossiers DossierRenderer
	Logger   *slog.Logger

	// The people track (letters.go, delivery.go): the letters' renderer, the
	// relay, the key that opens contact data, and the identity the worker
	// leaves on the ledger rows it claims ("" : pid@host).
	Letters  LetterRenderer
	Mail     *mail.Sender
	Vault    *vault.Vault
	Identity string

	// The follow-up monitoring (monitoring.go): the reminders' and reports'
	// renderers, and what opens a complementary filing draft on the
	// incident's GDPR regime workflow (the engine's Temporal client).
	Reminders     ReminderRenderer
	Reports       ReportRenderer
	Complementary ComplementaryOpener
	// The credential track (credentials.go): the engine-wide options of the
	// identity-provider connectors (the secrets folder, the HTTP client);
	// each incident's connector is configured in its track.
	IdP idp.Options

	poolOnce sync.Once
	conns    *connPool
}

// RecordAssessment computes the engine's proposal from the stored facts and
// keeps it with the DPO's decision and reason.
func (a *Activities) RecordAssessment(ctx context.Context, in AssessInput) (AssessResult, error) {
	var res AssessResult
	err := a.do(ctx, "record assessment", in.OpKey, in.RunID, in.IncidentID, &res, func(ctx context.Context, tx *store.Tx) (any, error) {
		inc, err := tx.Incident(ctx, in.IncidentID)
		if err != nil {
			return nil, err
		}
		facts := inc.Facts()
		proposal := breach.Assess(facts)

		decided := proposal.Risk
		if in.Risk != nil {
			if !in.Risk.Valid() {
				return nil, breach.Invalid("risk", "unknown risk level")
			}
			decided = *in.Risk
		}
		exemption := proposal.Exemption
		if in.Exemption != nil {
			if !validExemption(*in.Exemption) {
				return nil, breach.Invalid("exemption", "unknown Art. 34(3) exemption")
			}
			exemption = in.Exemption
		}
		if decided != breach.RiskHigh {
			exemption = nil // Art. 34(3) only spares telling people of a high risk
		}
		overridden := decided != proposal.Risk || !sameExemption(exemption, proposal.Exemption)

		rec, err := tx.RecordAssessment(ctx, in.Actor, breach.AssessmentRecord{
			IncidentID: inc.ID,
			Facts:      facts,
			Proposed:   proposal,
			Decided:    decided,
			Exemption:  exemption,
			Overridden: overridden,
			Reason:     in.Reason,
		})
		if err != nil {
			return nil, err
		}
		return AssessResult{
			AssessmentID:   rec.ID,
			Proposed:       proposal.Risk,
			Decided:        rec.Decided,
			NotifySA:       rec.NotifySA(),
			NotifySubjects: rec.NotifySubjects(),
		}, nil
	})
	return res, err
}

func validExemption(e breach.Exemption) bool {
	switch e {
	case breach.ExemptionUnintelligible, breach.ExemptionMitigated, breach.ExemptionDisproportion:
		return true
	}
	return false
}

func sameExemption(a, b *breach.Exemption) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// ChangeAwareAt moves the incident's awareness time, auditing before and after.
func (a *Activities) ChangeAwareAt(ctx context.Context, in ChangeAwareAtInput) error {
	return a.do(ctx, "change aware_at", in.OpKey, in.RunID, in.IncidentID, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		inc, err := tx.ChangeAwareAt(ctx, in.Actor, in.IncidentID, in.AwareAt, in.Reason)
		if err != nil {
			return nil, err
		}
		return map[string]any{"aware_at": inc.AwareAt}, nil
	})
}

// SaveDraft renders the dossier from the incident and the drafter's fields and
// stores it as the next version of the draft.
func (a *Activities) SaveDraft(ctx context.Context, in SaveDraftInput) (DraftRef, error) {
	var ref DraftRef
	err := a.do(ctx, "save draft", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		slot, err := tx.PrepareDraft(ctx, in.Actor, in.IncidentID, in.Key, in.BaseVersion)
		if err != nil {
			return nil, err
		}
		if slot.Previous == nil && in.DraftedBy != "" {
			slot.DraftedBy = in.DraftedBy
		}
		assessment, err := tx.LatestAssessment(ctx, in.IncidentID)
		if err != nil {
			return nil, err
		}
		filings, err := tx.Filings(ctx, in.IncidentID)
		if err != nil {
			return nil, err
		}
		dossier := DossierInput{
			Incident:   slot.Incident,
			Assessment: assessment,
			Key:        slot.Key,
			Version:    slot.Version,
			Fields:     in.Fields,
			Filings:    filings,
		}
		html, err := a.Dossiers.RenderDossier(ctx, dossier)
		if err != nil {
			return nil, err
		}
		record, err := a.Dossiers.DossierRecord(ctx, dossier)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(html)
		d, err := tx.SaveDraftVersion(ctx, in.Actor, slot, in.Fields, html, record, hex.EncodeToString(sum[:]))
		if err != nil {
			return nil, err
		}
		return DraftRef{
			ID:              d.ID,
			Key:             d.Key,
			Version:         d.Version,
			DraftedBy:       d.DraftedBy,
			EditedBy:        d.EditedBy,
			ContentHash:     d.ContentHash,
			HasDelayReasons: in.Fields.DelayReasons != "",
		}, nil
	})
	return ref, err
}

// DecideDraft approves a draft version or sends it back.
func (a *Activities) DecideDraft(ctx context.Context, in DecideDraftInput) error {
	return a.do(ctx, "decide draft", in.OpKey, in.RunID, in.IncidentID, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		d, err := tx.DecideDraft(ctx, in.Actor, in.IncidentID, in.DraftID, in.Approve, in.Comment)
		if err != nil {
			return nil, err
		}
		return map[string]any{"draft_id": d.ID, "state": d.State}, nil
	})
}

// RecordFiling records the filing of an approved version with its receipt reference.
func (a *Activities) RecordFiling(ctx context.Context, in FilingInput) (string, error) {
	var filingID string
	err := a.do(ctx, "record filing", in.OpKey, in.RunID, in.IncidentID, &filingID, func(ctx context.Context, tx *store.Tx) (any, error) {
		f, err := tx.RecordFiling(ctx, in.Actor, breach.Filing{
			IncidentID:     in.IncidentID,
			Key:            in.Key,
			DraftVersionID: in.DraftID,
			FiledAt:        in.FiledAt,
			Channel:        in.Channel,
			Reference:      in.Reference,
			DueAt:          in.DueAt,
			Late:           in.Late,
			DelayReasons:   in.DelayReasons,
		})
		if err != nil {
			return nil, err
		}
		return f.ID, nil
	})
	return filingID, err
}

// RecordAlarm records a deadline reminder or escalation in the audit log.
func (a *Activities) RecordAlarm(ctx context.Context, in AlarmInput) error {
	return a.do(ctx, "record alarm", in.OpKey, in.RunID, in.IncidentID, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		if in.Kind != AlarmReminder && in.Kind != AlarmEscalation {
			return nil, breach.Invalid("kind", "unknown alarm kind")
		}
		after := map[string]any{
			"regime": in.Regime,
			"stage":  in.Stage,
			"kind":   in.Kind,
			"due_at": in.DueAt.UTC(),
		}
		if in.Kind == AlarmReminder {
			after["before"] = in.Before.String()
			after["before_seconds"] = int64(in.Before.Seconds())
		}
		_, err := tx.Audit(ctx, store.AuditEntry{
			Actor: breach.System, Action: "deadline." + string(in.Kind), IncidentID: in.IncidentID, After: after,
		})
		return nil, err
	})
}

// CloseIncident freezes the incident's register entry with the closing
// summary and, with a retention period, dates the purge of its people's
// contact data (GDPR Art. 5(1)(e)).
func (a *Activities) CloseIncident(ctx context.Context, in CloseInput) (CloseResult, error) {
	var res CloseResult
	err := a.do(ctx, "close incident", in.OpKey, in.RunID, in.IncidentID, &res, func(ctx context.Context, tx *store.Tx) (any, error) {
		inc, purgeAfter, err := tx.CloseIncident(ctx, in.Actor, in.IncidentID, in.Summary, in.RetentionAfterClose)
		if err != nil {
			return nil, err
		}
		return CloseResult{State: inc.State, ClosedAt: inc.ClosedAt, PurgeAfter: purgeAfter}, nil
	})
	return res, err
}

// PurgePeople destroys the contact data of a closed incident's people once
// its retention period is over (GDPR Art. 5(1)(e)): their sealed columns are
// emptied and the incident's data key destroyed, with one audit row
// ("people.purged", counts only), in one transaction (store.Tx.PurgePeople).
// Idempotent by the op key, and a second purge of an incident does nothing.
func (a *Activities) PurgePeople(ctx context.Context, in PurgeInput) (PurgeResult, error) {
	var res PurgeResult
	err := a.do(ctx, "purge people", in.OpKey, in.RunID, in.IncidentID, &res, func(ctx context.Context, tx *store.Tx) (any, error) {
		r, err := tx.PurgePeople(ctx, breach.System, in.IncidentID)
		if err != nil {
			return nil, err
		}
		return PurgeResult{People: r.People, Purged: r.Purged, Shredded: r.Shredded, RingSealed: r.RingSealed,
			Key: r.Key, PurgedAt: r.PurgedAt, Already: r.Already}, nil
	})
	return res, err
}

// RecordRejection audits an update refused for lack of role or by a rule
// ("update.rejected"). It has no operation key: a retry may add a second row,
// which says the same thing.
func (a *Activities) RecordRejection(ctx context.Context, in RejectionInput) error {
	if err := a.Store.RecordRejection(ctx, in.IncidentID, in.Actor, in.Action, in.Reason); err != nil {
		return a.fail(ctx, "record rejection", in.IncidentID, err)
	}
	return nil
}
