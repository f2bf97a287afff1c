package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

const assessmentColumns = `id::text, incident_id::text, facts, proposal, decided, exemption, overridden, reason, decided_by, decided_at`

func scanAssessment(row pgx.Row) (breach.AssessmentRecord, error) {
	var a breach.AssessmentRecord
	var decided string
	var exemption *string
	err := row.Scan(&a.ID, &a.IncidentID, &a.Facts, &a.Proposed, &decided, &exemption, &a.Overridden, &a.Reason,
		&a.DecidedBy, &a.DecidedAt)
	if err != nil {
		return a, err
	}
	a.Decided = breach.Risk(decided)
	if exemption != nil {
		e := breach.Exemption(*exemption)
		a.Exemption = &e
	}
	a.DecidedAt = utc(a.DecidedAt)
	return a, nil
}

// RecordAssessment stores the engine's proposal with the DPO's decision and
// reason, marks an open incident assessed and audits "assessment.decided".
// Earlier assessments are kept: the latest is current.
func (t *Tx) RecordAssessment(ctx context.Context, actor breach.Actor, rec breach.AssessmentRecord) (breach.AssessmentRecord, error) {
	inc, err := t.Incident(ctx, rec.IncidentID)
	if err != nil {
		return rec, err
	}
	if inc.State == breach.StateClosed {
		return rec, closedConflict()
	}
	if !rec.Decided.Valid() {
		return rec, breach.Invalid("risk", "unknown risk level")
	}
	var exemption *string
	if rec.Exemption != nil {
		e := string(*rec.Exemption)
		exemption = &e
	}
	rec.DecidedBy = actor.UserID
	out, err := scanAssessment(t.tx.QueryRow(ctx, `
		INSERT INTO assessments (incident_id, facts, proposal, decided, exemption, overridden, reason, decided_by, decided_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING `+assessmentColumns,
		rec.IncidentID, rec.Facts, rec.Proposed, string(rec.Decided), exemption, rec.Overridden, rec.Reason,
		rec.DecidedBy, t.Now()))
	if err != nil {
		return rec, mapErr(err)
	}
	if inc.State == breach.StateOpen {
		if _, err := t.tx.Exec(ctx, `UPDATE incidents SET state = 'assessed', updated_at = now() WHERE id = $1`, inc.ID); err != nil {
			return out, err
		}
	}
	_, err = t.Audit(ctx, AuditEntry{
		Actor: actor, Action: "assessment.decided", IncidentID: inc.ID,
		After: map[string]any{
			"assessment_id":   out.ID,
			"facts":           out.Facts,
			"proposed":        out.Proposed,
			"decided":         out.Decided,
			"exemption":       out.Exemption,
			"overridden":      out.Overridden,
			"reason":          out.Reason,
			"notify_sa":       out.NotifySA(),
			"notify_subjects": out.NotifySubjects(),
		},
	})
	return out, err
}

func latestAssessment(ctx context.Context, q querier, incidentID string) (*breach.AssessmentRecord, error) {
	a, err := scanAssessment(q.QueryRow(ctx, `SELECT `+assessmentColumns+` FROM assessments WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1`, incidentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// LatestAssessment is the current assessment of the incident, nil if none.
func (t *Tx) LatestAssessment(ctx context.Context, incidentID string) (*breach.AssessmentRecord, error) {
	return latestAssessment(ctx, t.tx, incidentID)
}

// LatestAssessment is the current assessment of the incident, nil if none.
func (s *Store) LatestAssessment(ctx context.Context, incidentID string) (*breach.AssessmentRecord, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: latest assessment: %w", notFound("incident"))
	}
	a, err := latestAssessment(ctx, s.Pool, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: latest assessment: %w", err)
	}
	return a, nil
}

// Assessments lists every assessment of the incident, oldest first.
func (s *Store) Assessments(ctx context.Context, incidentID string) ([]breach.AssessmentRecord, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: assessments: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+assessmentColumns+` FROM assessments WHERE incident_id = $1 ORDER BY seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: assessments: %w", err)
	}
	defer rows.Close()
	out := []breach.AssessmentRecord{}
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: assessments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: assessments: %w", err)
	}
	return out, nil
}
