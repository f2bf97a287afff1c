// Package register formats the Art. 33(5) register: every breach, notified or
// not, with its facts, effects, the remedial action taken, the decisions and
// their rationale, so the authority can check compliance.
package register

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// Row is one incident of the register, flattened for export.
type Row struct {
	IncidentID        string     `json:"incident_id"`
	Reference         string     `json:"reference,omitempty"`
	Title             string     `json:"title"`
	State             string     `json:"state"`
	Description       string     `json:"description"`
	Cause             string     `json:"cause"`
	Ongoing           bool       `json:"ongoing"`
	DetectedAt        time.Time  `json:"detected_at"`
	AwareAt           time.Time  `json:"aware_at"`
	Controller        string     `json:"controller"`
	BreachTypes       []string   `json:"breach_types"`
	DataCategories    []string   `json:"data_categories"`
	SubjectCategories []string   `json:"subject_categories"`
	ApproxSubjects    int64      `json:"approx_subjects"`
	ApproxRecords     int64      `json:"approx_records"`
	ProposedRisk      string     `json:"proposed_risk,omitempty"`
	ENISAScore        *float64   `json:"enisa_score,omitempty"`
	ENISABand         string     `json:"enisa_band,omitempty"`
	DecidedRisk       string     `json:"decided_risk,omitempty"`
	Overridden        bool       `json:"overridden"`
	DecisionReason    string     `json:"decision_reason,omitempty"`
	DecidedBy         string     `json:"decided_by,omitempty"`
	NotifySA          *bool      `json:"notify_sa,omitempty"`
	NotifySubjects    *bool      `json:"notify_subjects,omitempty"`
	Exemption         string     `json:"exemption,omitempty"`
	Consequences      string     `json:"consequences,omitempty"`   // effects, from the latest dossier
	MeasuresTaken     string     `json:"measures_taken,omitempty"` // remedial action, from the latest dossier
	Filings           []string   `json:"filings"`                  // regime/stage#seq reference at time [late]
	ClosedAt          *time.Time `json:"closed_at,omitempty"`
	Summary           string     `json:"summary,omitempty"`
}

// Rows flattens register entries.
func Rows(entries []store.RegisterEntry) []Row {
	out := make([]Row, 0, len(entries))
	for _, e := range entries {
		out = append(out, row(e))
	}
	return out
}

func row(e store.RegisterEntry) Row {
	inc := e.Incident
	r := Row{
		IncidentID: inc.ID, Reference: inc.Reference, Title: inc.Title, State: string(inc.State),
		Description: inc.Description, Cause: string(inc.Cause), Ongoing: inc.Ongoing,
		DetectedAt: inc.DetectedAt.UTC(), AwareAt: inc.AwareAt.UTC(), Controller: inc.Controller.Name,
		BreachTypes: strs(inc.BreachTypes), DataCategories: strs(inc.DataCategories),
		SubjectCategories: strs(inc.SubjectCategories),
		ApproxSubjects:    inc.ApproxSubjects, ApproxRecords: inc.ApproxRecords,
		ClosedAt: inc.ClosedAt, Summary: inc.Summary, Filings: []string{},
	}
	if a := e.Assessment; a != nil {
		score := a.Proposed.ENISA.Score
		notifySA, notifySubjects := a.NotifySA(), a.NotifySubjects()
		r.ProposedRisk, r.ENISAScore, r.ENISABand = string(a.Proposed.Risk), &score, string(a.Proposed.ENISA.Band)
		r.DecidedRisk, r.Overridden, r.DecisionReason, r.DecidedBy = string(a.Decided), a.Overridden, a.Reason, a.DecidedBy
		r.NotifySA, r.NotifySubjects = &notifySA, &notifySubjects
		if a.Exemption != nil {
			r.Exemption = string(*a.Exemption)
		}
	}
	// The latest draft version carries the current account of effects and remedies.
	var latest *breach.DraftVersion
	for i := range e.Drafts {
		d := &e.Drafts[i]
		if latest == nil || d.CreatedAt.After(latest.CreatedAt) {
			latest = d
		}
	}
	if latest != nil {
		r.Consequences, r.MeasuresTaken = latest.Fields.Consequences, latest.Fields.MeasuresTaken
	}
	for _, f := range e.Filings {
		s := fmt.Sprintf("%s/%s#%d %s at %s", f.Key.Regime, f.Key.Stage, f.Key.Seq, f.Reference, f.FiledAt.UTC().Format(time.RFC3339))
		if f.Late {
			s += " [late]"
		}
		r.Filings = append(r.Filings, s)
	}
	return r
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

var header = []string{
	"incident_id", "reference", "title", "state", "description", "cause", "ongoing",
	"detected_at", "aware_at", "controller", "breach_types", "data_categories",
	"subject_categories", "approx_subjects", "approx_records", "proposed_risk",
	"enisa_score", "enisa_band", "decided_risk", "overridden", "decision_reason",
	"decided_by", "notify_sa", "notify_subjects", "exemption", "consequences",
	"measures_taken", "filings", "closed_at", "summary",
}

// WriteCSV writes the register as CSV with a header line. Lists are joined
// with "; " inside one cell.
func WriteCSV(w io.Writer, entries []store.RegisterEntry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("register: write csv header: %w", err)
	}
	for _, r := range Rows(entries) {
		rec := []string{
			r.IncidentID, r.Reference, csvSafe(r.Title), r.State, csvSafe(r.Description), r.Cause,
			strconv.FormatBool(r.Ongoing), r.DetectedAt.Format(time.RFC3339), r.AwareAt.Format(time.RFC3339),
			csvSafe(r.Controller), strings.Join(r.BreachTypes, "; "), strings.Join(r.DataCategories, "; "),
			strings.Join(r.SubjectCategories, "; "), strconv.FormatInt(r.ApproxSubjects, 10),
			strconv.FormatInt(r.ApproxRecords, 10), r.ProposedRisk, optFloat(r.ENISAScore), r.ENISABand,
			r.DecidedRisk, strconv.FormatBool(r.Overridden), csvSafe(r.DecisionReason), r.DecidedBy,
			optBool(r.NotifySA), optBool(r.NotifySubjects), r.Exemption, csvSafe(r.Consequences),
			csvSafe(r.MeasuresTaken), csvSafe(strings.Join(r.Filings, "; ")), optTime(r.ClosedAt), csvSafe(r.Summary),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("register: write csv row for incident %s: %w", r.IncidentID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("register: flush csv: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formula injection in free text: a cell that
// starts with = + - @ is prefixed with a quote, as OWASP recommends.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func optFloat(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', 2, 64)
}

func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
