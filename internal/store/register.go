package store

import (
	"context"
	"fmt"

	"github.com/breach-engine/breach/internal/breach"
)

// RegisterEntry is one incident in the register of breaches (Art. 33(5)): the
// facts, the current assessment with its rationale (nil when not assessed),
// the filings made, and the current version of each draft (its state, and the
// effects and remedial action it describes), oldest draft first, without HTML.
type RegisterEntry struct {
	Incident   breach.Incident          `json:"incident"`
	Assessment *breach.AssessmentRecord `json:"assessment"`
	Filings    []breach.Filing          `json:"filings"`
	Drafts     []breach.DraftVersion    `json:"drafts"`
}

// Register lists every incident, notified or not, oldest first, with its
// current assessment, filings and drafts. It reads one snapshot.
func (s *Store) Register(ctx context.Context) ([]RegisterEntry, error) {
	var out []RegisterEntry
	err := s.readSnapshot(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		index := map[string]int{}
		for rows.Next() {
			inc, err := scanIncident(rows)
			if err != nil {
				rows.Close()
				return err
			}
			index[inc.ID] = len(out)
			out = append(out, RegisterEntry{Incident: inc, Filings: []breach.Filing{}, Drafts: []breach.DraftVersion{}})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = q.Query(ctx, `SELECT DISTINCT ON (incident_id) `+assessmentColumns+` FROM assessments ORDER BY incident_id, seq DESC`)
		if err != nil {
			return err
		}
		for rows.Next() {
			a, err := scanAssessment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if i, ok := index[a.IncidentID]; ok {
				out[i].Assessment = &a
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = q.Query(ctx, `SELECT `+filingColumns+` FROM filings ORDER BY filed_at, created_at`)
		if err != nil {
			return err
		}
		for rows.Next() {
			f, err := scanFiling(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if i, ok := index[f.IncidentID]; ok {
				out[i].Filings = append(out[i].Filings, f)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = q.Query(ctx, `
			SELECT `+draftColumns+` FROM (
				SELECT DISTINCT ON (incident_id, regime, stage, seq) * FROM draft_versions
				ORDER BY incident_id, regime, stage, seq, version DESC
			) latest ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDraft(rows)
			if err != nil {
				return err
			}
			if i, ok := index[d.IncidentID]; ok {
				out[i].Drafts = append(out[i].Drafts, d)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: register: %w", err)
	}
	if out == nil {
		out = []RegisterEntry{}
	}
	return out, nil
}
