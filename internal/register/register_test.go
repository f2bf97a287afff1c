package register

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

func entry() store.RegisterEntry {
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	exemption := breach.ExemptionUnintelligible
	return store.RegisterEntry{
		Incident: breach.Incident{
			ID: "inc-1", State: breach.StateAssessed,
			IncidentInput: breach.IncidentInput{
				Title: "=HYPERLINK(\"http://evil\")", Description: "Lost laptop, encrypted disk",
				DetectedAt: at, AwareAt: at.Add(time.Hour), Cause: "accidental_internal",
				Controller:     breach.Controller{Name: "Org"},
				DataCategories: []breach.DataCategory{breach.DataIdentification, breach.DataHealth},
				BreachTypes:    []breach.BreachType{breach.Confidentiality},
				ApproxSubjects: 120, ApproxRecords: 300,
			},
		},
		Assessment: &breach.AssessmentRecord{
			Proposed: breach.Assessment{Risk: breach.RiskHigh, ENISA: breach.ENISA{Score: 3.5, Band: breach.BandHigh}},
			Decided:  breach.RiskSome, Exemption: &exemption, Overridden: true,
			Reason: "Disk encrypted with the key safe: people need not be told (Art. 34(3)(a))", DecidedBy: "u-1",
		},
		Filings: []breach.Filing{{Key: breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, Seq: 1},
			Reference: "CNIL-1", FiledAt: at.Add(80 * time.Hour), Late: true}},
	}
}

func TestCSVHoldsTheDecisionAndItsReason(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, []store.RegisterEntry{entry()}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(recs[0]) != len(header) || len(recs[1]) != len(header) {
		t.Fatalf("shape: %d records", len(recs))
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	want := map[string]string{
		"incident_id": "inc-1", "proposed_risk": "high", "decided_risk": "risk", "overridden": "true",
		"notify_sa": "true", "notify_subjects": "false", "exemption": "art34_3_a", "enisa_score": "3.50",
		"data_categories": "identification; health", "aware_at": "2026-11-25T09:00:00Z",
		"filings":         "gdpr/initial#1 CNIL-1 at 2026-11-28T16:00:00Z [late]",
		"decision_reason": "Disk encrypted with the key safe: people need not be told (Art. 34(3)(a))",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %q, want %q", k, row[k], v)
		}
	}
	// A title starting with = would run as a formula in a spreadsheet.
	if row["title"][0] != '\'' {
		t.Errorf("formula not defused: %q", row["title"])
	}
}

func TestRowsOfAnUnassessedIncidentLeaveDecisionsEmpty(t *testing.T) {
	e := entry()
	e.Assessment, e.Filings = nil, nil
	r := Rows([]store.RegisterEntry{e})[0]
	if r.DecidedRisk != "" || r.NotifySA != nil || r.ENISAScore != nil || len(r.Filings) != 0 || r.Filings == nil {
		t.Fatalf("unassessed row: %+v", r)
	}
}
