package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// IncidentSummary is what the register page shows of an incident: the few
// columns that say where it stands, the current assessment's outcome, the
// current version of each draft (without its texts) and the filings made.
// Reading the whole register this way takes three queries whatever the
// number of incidents.
type IncidentSummary struct {
	ID             string
	Reference      string
	Title          string
	State          breach.IncidentState
	AwareAt        time.Time
	CreatedAt      time.Time
	Regimes        []breach.RegimeCode
	ApproxSubjects int64
	Decided        breach.Risk // "" when not assessed
	Exemption      *breach.Exemption
	Drafts         []breach.DraftVersion // current version of each draft; Fields left empty
	Filings        []breach.Filing
}

// AuditHead is the ID of the newest audit row (0 when none). Every change
// the register shows appends an audit row in the same transaction, and rows
// are appended one transaction at a time, so an unchanged head means an
// unchanged register: the register page caches on it.
func (s *Store) AuditHead(ctx context.Context) (int64, error) {
	var head int64
	if err := s.Pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&head); err != nil {
		return 0, fmt.Errorf("store: audit head: %w", err)
	}
	return head, nil
}

// IncidentSummaries lists every incident, in no particular order (the page
// sorts by urgency), from one snapshot, with the audit head of that snapshot.
func (s *Store) IncidentSummaries(ctx context.Context) ([]IncidentSummary, int64, error) {
	var head int64
	// Sized from the last call: growing a slice of ten thousand summaries
	// by doubling costs more than reading them.
	out := make([]IncidentSummary, 0, summariesHint.Load()+16)
	err := s.readSnapshot(ctx, func(q querier) error {
		if err := q.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&head); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `
			SELECT i.id::text, coalesce(i.reference, ''), i.title, i.state, i.aware_at, i.created_at, i.regimes,
				i.approx_subjects, coalesce(a.decided, ''), a.exemption
			FROM incidents i
			LEFT JOIN (
				SELECT DISTINCT ON (incident_id) incident_id, decided, exemption
				FROM assessments ORDER BY incident_id, seq DESC
			) a ON a.incident_id = i.id`)
		if err != nil {
			return err
		}
		index := make(map[string]int, cap(out))
		for rows.Next() {
			var sum IncidentSummary
			var state, decided string
			var regimes []string
			var exemption *string
			if err := rows.Scan(&sum.ID, &sum.Reference, &sum.Title, &state, &sum.AwareAt, &sum.CreatedAt, &regimes,
				&sum.ApproxSubjects, &decided, &exemption); err != nil {
				rows.Close()
				return err
			}
			sum.State, sum.Decided = breach.IncidentState(state), breach.Risk(decided)
			sum.Regimes = typed[breach.RegimeCode](regimes)
			sum.AwareAt, sum.CreatedAt = utc(sum.AwareAt), utc(sum.CreatedAt)
			if exemption != nil {
				e := breach.Exemption(*exemption)
				sum.Exemption = &e
			}
			index[sum.ID] = len(out)
			out = append(out, sum)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = q.Query(ctx, `
			SELECT DISTINCT ON (incident_id, regime, stage, seq)
				id::text, incident_id::text, regime, stage, seq, version, state, drafted_by, edited_by, created_at
			FROM draft_versions ORDER BY incident_id, regime, stage, seq, version DESC`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d breach.DraftVersion
			var regime, stage, state string
			if err := rows.Scan(&d.ID, &d.IncidentID, &regime, &stage, &d.Key.Seq, &d.Version, &state, &d.DraftedBy,
				&d.EditedBy, &d.CreatedAt); err != nil {
				rows.Close()
				return err
			}
			d.Key.Regime, d.Key.Stage, d.State = breach.RegimeCode(regime), breach.StageCode(stage), breach.DraftState(state)
			d.CreatedAt = utc(d.CreatedAt)
			if i, ok := index[d.IncidentID]; ok {
				out[i].Drafts = append(out[i].Drafts, d)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = q.Query(ctx, `SELECT id::text, incident_id::text, regime, stage, seq, filed_at, late FROM filings`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f breach.Filing
			var regime, stage string
			if err := rows.Scan(&f.ID, &f.IncidentID, &regime, &stage, &f.Key.Seq, &f.FiledAt, &f.Late); err != nil {
				return err
			}
			f.Key.Regime, f.Key.Stage, f.FiledAt = breach.RegimeCode(regime), breach.StageCode(stage), utc(f.FiledAt)
			if i, ok := index[f.IncidentID]; ok {
				out[i].Filings = append(out[i].Filings, f)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: incident summaries: %w", err)
	}
	summariesHint.Store(int64(len(out)))
	return out, head, nil
}

// summariesHint is the number of incidents IncidentSummaries last read.
var summariesHint atomic.Int64
