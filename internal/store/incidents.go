package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

const incidentColumns = `id::text, coalesce(reference, ''), title, description, discovery, detected_at, aware_at,
	aware_at_reason, occurred_at, controller, data_categories, subject_categories, approx_subjects,
	approx_records, breach_types, cause, ongoing, regimes, circumstances, state, created_by, created_at,
	closed_at, summary`

func scanIncident(row pgx.Row) (breach.Incident, error) {
	var inc breach.Incident
	var dataCats, subjCats, types, regimes []string
	var cause, state string
	err := row.Scan(&inc.ID, &inc.Reference, &inc.Title, &inc.Description, &inc.Discovery, &inc.DetectedAt,
		&inc.AwareAt, &inc.AwareAtReason, &inc.OccurredAt, &inc.Controller, &dataCats, &subjCats,
		&inc.ApproxSubjects, &inc.ApproxRecords, &types, &cause, &inc.Ongoing, &regimes, &inc.Circumstances,
		&state, &inc.CreatedBy, &inc.CreatedAt, &inc.ClosedAt, &inc.Summary)
	if err != nil {
		return inc, err
	}
	inc.DataCategories = typed[breach.DataCategory](dataCats)
	inc.SubjectCategories = typed[breach.SubjectCategory](subjCats)
	inc.BreachTypes = typed[breach.BreachType](types)
	inc.Regimes = typed[breach.RegimeCode](regimes)
	inc.Cause = breach.Cause(cause)
	inc.State = breach.IncidentState(state)
	inc.DetectedAt, inc.AwareAt, inc.CreatedAt = utc(inc.DetectedAt), utc(inc.AwareAt), utc(inc.CreatedAt)
	inc.OccurredAt, inc.ClosedAt = utcPtr(inc.OccurredAt), utcPtr(inc.ClosedAt)
	return inc, nil
}

// normalizeRegimes puts GDPR first (it always applies) and drops repeats.
func normalizeRegimes(rs []breach.RegimeCode) []breach.RegimeCode {
	out := []breach.RegimeCode{breach.RegimeGDPR}
	seen := map[breach.RegimeCode]bool{breach.RegimeGDPR: true}
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := micro(*t)
	return &u
}

// incidentAudit is what the audit log keeps of an opened incident: the facts
// that drive deadlines and the assessment, without free text or contacts.
func incidentAudit(inc breach.Incident) map[string]any {
	return map[string]any{
		"reference":          inc.Reference,
		"detected_at":        inc.DetectedAt,
		"aware_at":           inc.AwareAt,
		"occurred_at":        inc.OccurredAt,
		"controller_siren":   inc.Controller.SIREN,
		"data_categories":    inc.DataCategories,
		"subject_categories": inc.SubjectCategories,
		"approx_subjects":    inc.ApproxSubjects,
		"approx_records":     inc.ApproxRecords,
		"breach_types":       inc.BreachTypes,
		"cause":              inc.Cause,
		"ongoing":            inc.Ongoing,
		"regimes":            inc.Regimes,
		"circumstances":      inc.Circumstances,
		"state":              inc.State,
	}
}

// CreateIncident stores a new incident and audits "incident.opened". With a
// non-empty Reference it is idempotent: an incident with that reference is
// returned as it is, with created false. Invalid input (IncidentInput.Validate
// against the store's clock) is refused before anything is written.
func (s *Store) CreateIncident(ctx context.Context, actor breach.Actor, in breach.IncidentInput) (breach.Incident, bool, error) {
	var inc breach.Incident
	created := false
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		inc, created, err = tx.CreateIncident(ctx, actor, in)
		return err
	})
	if err != nil {
		return breach.Incident{}, false, fmt.Errorf("store: create incident: %w", err)
	}
	return inc, created, nil
}

// CreateIncident is CreateIncident within the transaction.
func (t *Tx) CreateIncident(ctx context.Context, actor breach.Actor, in breach.IncidentInput) (breach.Incident, bool, error) {
	if actor.UserID == "" {
		return breach.Incident{}, false, breach.Errorf(breach.ErrInvalid, "no actor")
	}
	if err := in.Validate(t.Now()); err != nil {
		return breach.Incident{}, false, err
	}
	in.Regimes = normalizeRegimes(in.Regimes)
	row := t.tx.QueryRow(ctx, `
		INSERT INTO incidents (reference, title, description, discovery, detected_at, aware_at, aware_at_reason,
			occurred_at, controller, data_categories, subject_categories, approx_subjects, approx_records,
			breach_types, cause, ongoing, regimes, circumstances, state, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'open', $19)
		ON CONFLICT (reference) DO NOTHING
		RETURNING `+incidentColumns,
		nullString(in.Reference), in.Title, in.Description, in.Discovery, micro(in.DetectedAt), micro(in.AwareAt),
		in.AwareAtReason, microPtr(in.OccurredAt), in.Controller, strs(in.DataCategories), strs(in.SubjectCategories),
		in.ApproxSubjects, in.ApproxRecords, strs(in.BreachTypes), string(in.Cause), in.Ongoing, strs(in.Regimes),
		in.Circumstances, actor.UserID)
	inc, err := scanIncident(row)
	if errors.Is(err, pgx.ErrNoRows) {
		// The reference exists: this is a repeat of an earlier opening.
		inc, err = scanIncident(t.tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE reference = $1`, in.Reference))
		if err != nil {
			return breach.Incident{}, false, mapErr(err)
		}
		return inc, false, nil
	}
	if err != nil {
		return breach.Incident{}, false, mapErr(err)
	}
	if _, err := t.Audit(ctx, AuditEntry{
		Actor: actor, Action: "incident.opened", IncidentID: inc.ID,
		WorkflowID: breach.WorkflowID(inc.ID), After: incidentAudit(inc),
	}); err != nil {
		return breach.Incident{}, false, err
	}
	return inc, true, nil
}

func getIncident(ctx context.Context, q querier, id string, forUpdate bool) (breach.Incident, error) {
	if !validID(id) {
		return breach.Incident{}, notFound("incident")
	}
	sql := `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	inc, err := scanIncident(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return breach.Incident{}, notFound("incident")
	}
	return inc, err
}

// GetIncident returns one incident; unknown or malformed IDs are not found.
func (s *Store) GetIncident(ctx context.Context, id string) (breach.Incident, error) {
	inc, err := getIncident(ctx, s.Pool, id, false)
	if err != nil {
		return breach.Incident{}, fmt.Errorf("store: get incident: %w", err)
	}
	return inc, nil
}

// IncidentByReference returns the incident opened with the given reference.
func (s *Store) IncidentByReference(ctx context.Context, reference string) (breach.Incident, error) {
	inc, err := scanIncident(s.Pool.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE reference = $1`, reference))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("incident")
	}
	if err != nil {
		return breach.Incident{}, fmt.Errorf("store: incident by reference: %w", err)
	}
	return inc, nil
}

// Incident reads an incident within the transaction and locks its row until
// the transaction ends.
func (t *Tx) Incident(ctx context.Context, id string) (breach.Incident, error) {
	return getIncident(ctx, t.tx, id, true)
}

// ListIncidents lists every incident, newest first.
func (s *Store) ListIncidents(ctx context.Context) ([]breach.Incident, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list incidents: %w", err)
	}
	defer rows.Close()
	out := []breach.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list incidents: %w", err)
	}
	return out, nil
}

func closedConflict() error {
	return breach.Errorf(breach.ErrConflict, "incident is closed")
}

// ChangeAwareAt moves the incident's awareness time (the start of the
// Art. 33(1) clock) and audits "incident.aware_at_changed" with before and
// after. It returns the incident as changed.
func (t *Tx) ChangeAwareAt(ctx context.Context, actor breach.Actor, incidentID string, awareAt time.Time, reason string) (breach.Incident, error) {
	inc, err := t.Incident(ctx, incidentID)
	if err != nil {
		return inc, err
	}
	if inc.State == breach.StateClosed {
		return inc, closedConflict()
	}
	awareAt = micro(awareAt)
	if awareAt.IsZero() {
		return inc, breach.Invalid("aware_at", "required")
	}
	if awareAt.Before(inc.DetectedAt) {
		return inc, breach.Invalid("aware_at", "is before detected_at: awareness follows detection")
	}
	if awareAt.After(t.Now().Add(breach.ClockSkew)) {
		return inc, breach.Invalid("aware_at", "is in the future")
	}
	before := map[string]any{"aware_at": inc.AwareAt, "aware_at_reason": inc.AwareAtReason}
	_, err = t.tx.Exec(ctx, `UPDATE incidents SET aware_at = $2, aware_at_reason = $3, updated_at = now() WHERE id = $1`,
		incidentID, awareAt, reason)
	if err != nil {
		return inc, mapErr(err)
	}
	inc.AwareAt, inc.AwareAtReason = awareAt, reason
	_, err = t.Audit(ctx, AuditEntry{
		Actor: actor, Action: "incident.aware_at_changed", IncidentID: incidentID,
		Before: before, After: map[string]any{"aware_at": awareAt, "aware_at_reason": reason},
	})
	return inc, err
}

// CloseIncident closes the incident with its summary and audits
// "incident.closed". With a retention period, the purge of its people's
// contact data is due that long after the closure (purge_after, GDPR
// Art. 5(1)(e)), and the returned PurgeAfter says when; 0 schedules none.
//
// Closing freezes the incident's register entry (Art. 33(5)): every writer of
// the incident, its assessments, drafts and filings checks the state under
// the incident's row lock and refuses a closed incident, and the database
// triggers of migration 011 refuse it whatever the code path.
func (t *Tx) CloseIncident(ctx context.Context, actor breach.Actor, incidentID, summary string, retention time.Duration) (inc breach.Incident, purgeAfter *time.Time, err error) {
	inc, err = t.Incident(ctx, incidentID)
	if err != nil {
		return inc, nil, err
	}
	if inc.State == breach.StateClosed {
		return inc, nil, closedConflict()
	}
	if retention < 0 {
		return inc, nil, breach.Invalid("retention", "must not be negative")
	}
	now := micro(t.Now())
	after := map[string]any{"state": breach.StateClosed, "closed_at": now, "summary": summary}
	if retention > 0 {
		due := micro(now.Add(retention))
		purgeAfter = &due
		after["purge_after"] = due
	}
	if _, err := t.tx.Exec(ctx, `UPDATE incidents SET state = 'closed', closed_at = $2, summary = $3, purge_after = $4, updated_at = now() WHERE id = $1`,
		incidentID, now, summary, purgeAfter); err != nil {
		return inc, nil, mapErr(err)
	}
	before := map[string]any{"state": inc.State}
	inc.State, inc.ClosedAt, inc.Summary = breach.StateClosed, &now, summary
	_, err = t.Audit(ctx, AuditEntry{
		Actor: actor, Action: "incident.closed", IncidentID: incidentID,
		Before: before, After: after,
	})
	return inc, purgeAfter, err
}
