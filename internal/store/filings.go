package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

const filingColumns = `id::text, incident_id::text, regime, stage, seq, draft_version_id::text, content_hash, filed_at,
	channel, reference, due_at, late, delay_reasons, recorded_by`

func scanFiling(row pgx.Row) (breach.Filing, error) {
	var f breach.Filing
	var regime, stage string
	err := row.Scan(&f.ID, &f.IncidentID, &regime, &stage, &f.Key.Seq, &f.DraftVersionID, &f.ContentHash, &f.FiledAt,
		&f.Channel, &f.Reference, &f.DueAt, &f.Late, &f.DelayReasons, &f.RecordedBy)
	if err != nil {
		return f, err
	}
	f.Key.Regime, f.Key.Stage = breach.RegimeCode(regime), breach.StageCode(stage)
	f.FiledAt, f.DueAt = utc(f.FiledAt), utcPtr(f.DueAt)
	return f, nil
}

// RecordFiling records that an approved draft version was filed with the
// authority: the filing points at that version and its content hash, the
// version becomes filed, and "filing.recorded" is audited. f.DraftVersionID
// names the version; ID, ContentHash and RecordedBy are set here.
func (t *Tx) RecordFiling(ctx context.Context, actor breach.Actor, f breach.Filing) (breach.Filing, error) {
	d, err := t.Draft(ctx, f.DraftVersionID)
	if err != nil {
		return f, err
	}
	if f.IncidentID != "" && d.IncidentID != f.IncidentID {
		return f, notFound("draft version")
	}
	if err := refuseClosed(ctx, t.tx, d.IncidentID); err != nil {
		return f, err
	}
	if f.Key != (breach.DraftKey{}) && (f.Key.Regime != d.Key.Regime || f.Key.Stage != d.Key.Stage || (f.Key.Seq != 0 && f.Key.Seq != d.Key.Seq)) {
		return f, breach.Invalid("key", "the draft version belongs to another filing")
	}
	if d.State != breach.DraftApproved {
		return f, breach.Errorf(breach.ErrConflict, "draft version is %s, not approved", d.State)
	}
	if f.FiledAt.IsZero() {
		return f, breach.Invalid("filed_at", "is required")
	}
	if f.Channel == "" {
		return f, breach.Invalid("channel", "is required")
	}
	f.IncidentID, f.Key, f.ContentHash, f.RecordedBy = d.IncidentID, d.Key, d.ContentHash, actor.UserID
	out, err := scanFiling(t.tx.QueryRow(ctx, `
		INSERT INTO filings (incident_id, regime, stage, seq, draft_version_id, content_hash, filed_at, channel,
			reference, due_at, late, delay_reasons, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING `+filingColumns,
		f.IncidentID, string(f.Key.Regime), string(f.Key.Stage), f.Key.Seq, f.DraftVersionID, f.ContentHash,
		micro(f.FiledAt), f.Channel, f.Reference, microPtr(f.DueAt), f.Late, f.DelayReasons, f.RecordedBy))
	if err != nil {
		return f, mapErr(err)
	}
	if _, err := t.tx.Exec(ctx, `UPDATE draft_versions SET state = 'filed' WHERE id = $1`, d.ID); err != nil {
		return out, err
	}
	_, err = t.Audit(ctx, AuditEntry{
		Actor: actor, Action: "filing.recorded", IncidentID: out.IncidentID,
		Before: map[string]any{"draft_state": d.State},
		After: map[string]any{
			"filing_id": out.ID, "key": out.Key, "draft_id": out.DraftVersionID, "content_hash": out.ContentHash,
			"filed_at": out.FiledAt, "channel": out.Channel, "reference": out.Reference, "due_at": out.DueAt,
			"late": out.Late, "delay_reasons": out.DelayReasons, "draft_state": breach.DraftFiled,
		},
	})
	return out, err
}

func listFilings(ctx context.Context, q querier, incidentID string) ([]breach.Filing, error) {
	rows, err := q.Query(ctx, `SELECT `+filingColumns+` FROM filings WHERE incident_id = $1 ORDER BY filed_at, created_at`, incidentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []breach.Filing{}
	for rows.Next() {
		f, err := scanFiling(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Filings lists the incident's filings within the transaction, oldest first.
func (t *Tx) Filings(ctx context.Context, incidentID string) ([]breach.Filing, error) {
	return listFilings(ctx, t.tx, incidentID)
}

// Filings lists the incident's filings, oldest first.
func (s *Store) Filings(ctx context.Context, incidentID string) ([]breach.Filing, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: filings: %w", notFound("incident"))
	}
	out, err := listFilings(ctx, s.Pool, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: filings: %w", err)
	}
	return out, nil
}
