package workflows

import (
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

var (
	incidentWF = breach.WorkflowID(incidentID)
	gdprWF     = breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR)
	nis2WF     = breach.RegimeWorkflowID(incidentID, breach.RegimeNIS2)
)

// runIncident runs an Incident workflow (and its Regime children) from t0.
func (h *harness) runIncident(p IncidentParams) {
	h.t.Helper()
	if p.IncidentID == "" {
		p.IncidentID = incidentID
	}
	if p.AwareAt.IsZero() {
		p.AwareAt = t0
	}
	if p.DetectedAt.IsZero() {
		p.DetectedAt = t0.Add(-2 * time.Hour)
	}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: breach.WorkflowID(p.IncidentID)})
	h.env.ExecuteWorkflow(IncidentWorkflowName, p)
	h.finished()
}

func closeUpdate() CloseUpdate {
	return CloseUpdate{Actor: dpo, Summary: "synthetic closing summary"}
}

func risk(r breach.Risk) *breach.Risk { return &r }

// TestIncidentAssessNoneStopsGDPRReminders: when the DPO decides there is no
// risk, the GDPR track stops reminding and escalating (record only, Art. 33(5)).
func TestIncidentAssessNoneStopsGDPRReminders(t *testing.T) {
	h := newHarness(t)
	a := h.update(hours(1), "", UpdateAssess, AssessUpdate{Actor: dpo, Risk: risk(breach.RiskNone), Reason: "synthetic: data encrypted, key safe"})
	var view IncidentView
	var gdpr RegimeView
	h.query(hours(2), "", &view)
	h.query(hours(2), gdprWF, &gdpr)
	c := h.update(hours(100), "", UpdateClose, closeUpdate())
	h.runIncident(IncidentParams{})
	accepted(t, a)
	accepted(t, c)
	equalLists(t, "alarms", h.alarmList(), nil)
	if len(h.assessments) != 1 || h.assessments[0].OpKey != incidentWF+"/upd-1" || *h.assessments[0].Risk != breach.RiskNone ||
		h.assessments[0].Reason == "" || h.assessments[0].IncidentID != incidentID {
		t.Errorf("assessments %+v", h.assessments)
	}
	if res := valueOf[activities.AssessResult](t, a); res.Decided != breach.RiskNone || res.NotifySA {
		t.Errorf("assess result %+v", res)
	}
	if view.Assessment == nil || view.Assessment.Decided != breach.RiskNone {
		t.Errorf("incident view %+v", view)
	}
	if gdpr.NotificationNeeded {
		t.Errorf("gdpr view %+v", gdpr)
	}
	if len(h.closes) != 1 || h.closes[0].Summary == "" {
		t.Errorf("closes %+v", h.closes)
	}
}

// TestIncidentAssessRiskKeepsReminders: confirming a risk keeps the GDPR clock.
func TestIncidentAssessRiskKeepsReminders(t *testing.T) {
	h := newHarness(t)
	noReason := h.update(hours(1), "", UpdateAssess, AssessUpdate{Actor: dpo, Reason: "  "})
	byApprover := h.update(hours(1), "", UpdateAssess, AssessUpdate{Actor: approverA, Reason: "synthetic"})
	badRisk := h.update(hours(1), "", UpdateAssess, AssessUpdate{Actor: dpo, Risk: risk("maybe"), Reason: "synthetic"})
	badExemption := h.update(hours(1), "", UpdateAssess, AssessUpdate{Actor: dpo, Exemption: new(breach.Exemption("art99")), Reason: "synthetic"})
	confirm := h.update(hours(2), "", UpdateAssess, AssessUpdate{Actor: dpo, Reason: "synthetic: proposal confirmed"})
	c := h.update(hours(30), "", UpdateClose, closeUpdate())
	h.runIncident(IncidentParams{})
	rejected(t, noReason, breach.ErrInvalid)
	rejected(t, byApprover, breach.ErrForbidden)
	rejected(t, badRisk, breach.ErrInvalid)
	rejected(t, badExemption, breach.ErrInvalid)
	accepted(t, confirm)
	accepted(t, c)
	equalLists(t, "alarms", h.alarmList(), []string{"gdpr initial reminder -48h0m0s @T+24h0m0s"})
	if len(h.assessments) != 1 || h.assessments[0].Risk != nil {
		t.Errorf("assessments %+v", h.assessments)
	}
}

// TestIncidentChangeAwareAtMovesDeadlines: moving aware_at goes through the
// ChangeAwareAt activity (which audits it) and moves every regime's deadlines,
// reminders and escalations; bad moves are rejected with the rule named.
func TestIncidentChangeAwareAtMovesDeadlines(t *testing.T) {
	h := newHarness(t)
	move := ChangeAwareAtUpdate{Actor: dpo, AwareAt: t0.Add(5 * time.Hour), Reason: "synthetic: confirmation of exfiltration"}
	future := h.update(hours(10), "", UpdateChangeAwareAt, ChangeAwareAtUpdate{Actor: dpo, AwareAt: t0.Add(11 * time.Hour), Reason: "x"})
	beforeDetected := h.update(hours(10), "", UpdateChangeAwareAt, ChangeAwareAtUpdate{Actor: dpo, AwareAt: t0.Add(-3 * time.Hour), Reason: "x"})
	noReason := h.update(hours(10), "", UpdateChangeAwareAt, ChangeAwareAtUpdate{Actor: dpo, AwareAt: t0.Add(time.Hour)})
	byApprover := h.update(hours(10), "", UpdateChangeAwareAt, ChangeAwareAtUpdate{Actor: approverA, AwareAt: t0.Add(time.Hour), Reason: "x"})
	ok := h.update(hours(10), "", UpdateChangeAwareAt, move)
	unchanged := h.update(hours(20), "", UpdateChangeAwareAt, move)
	var view IncidentView
	var gdpr, nis2 RegimeView
	h.query(hours(11), "", &view)
	h.query(hours(11), gdprWF, &gdpr)
	h.query(hours(11), nis2WF, &nis2)
	c := h.update(hours(80), "", UpdateClose, closeUpdate())
	h.runIncident(IncidentParams{Regimes: []breach.RegimeCode{breach.RegimeNIS2}, ReminderOffsets: []time.Duration{24 * time.Hour}})
	rejected(t, future, breach.ErrInvalid)
	rejected(t, beforeDetected, breach.ErrInvalid)
	rejected(t, noReason, breach.ErrInvalid)
	rejected(t, byApprover, breach.ErrForbidden)
	accepted(t, ok)
	rejected(t, unchanged, breach.ErrConflict)
	accepted(t, c)
	if len(h.awareMoves) != 1 {
		t.Fatalf("ChangeAwareAt calls %+v", h.awareMoves)
	}
	in := h.awareMoves[0]
	if !in.AwareAt.Equal(move.AwareAt) || in.Reason != move.Reason || in.Actor != dpo || in.IncidentID != incidentID || in.OpKey != incidentWF+"/upd-5" {
		t.Errorf("ChangeAwareAt input %+v", in)
	}
	// Aware at T+5h (moved at T+10h): NIS2 early warning due T+29h (its
	// reminder at T+5h already past), notification and GDPR due T+77h.
	equalLists(t, "alarms", h.alarmList(), []string{
		"nis2 early_warning reminder -24h0m0s @T+0s",
		"nis2 early_warning escalation -0s @T+29h0m0s",
		"gdpr initial reminder -24h0m0s @T+53h0m0s",
		"nis2 notification reminder -24h0m0s @T+53h0m0s",
		"gdpr initial escalation -0s @T+77h0m0s",
		"nis2 notification escalation -0s @T+77h0m0s",
	})
	if !view.AwareAt.Equal(move.AwareAt) || len(view.Regimes) != 2 || view.Regimes[0].Regime != breach.RegimeGDPR || view.Regimes[1].WorkflowID != nis2WF {
		t.Errorf("incident view %+v", view)
	}
	for _, d := range view.Deadlines {
		if d.Stage == breach.StageInitial && !d.DueAt.Equal(t0.Add(77*time.Hour)) {
			t.Errorf("incident view: gdpr initial due %s", d.DueAt)
		}
	}
	if !gdpr.AwareAt.Equal(move.AwareAt) || !gdpr.Deadlines[0].DueAt.Equal(t0.Add(77*time.Hour)) {
		t.Errorf("gdpr view %+v", gdpr)
	}
	if !nis2.AwareAt.Equal(move.AwareAt) || !nis2.Deadlines[0].DueAt.Equal(t0.Add(29*time.Hour)) {
		t.Errorf("nis2 view %+v", nis2)
	}
}

// TestIncidentRegulatorTrackAndClose: the GDPR track runs through the child
// (draft, four-eyes approval, filing), the incident's view learns of the
// filing, and closing ends the incident and every child.
func TestIncidentRegulatorTrackAndClose(t *testing.T) {
	h := newHarness(t)
	h.update(hours(1), gdprWF, UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	selfApproval := h.update(hours(2), gdprWF, UpdateDecideDraft, approve(breach.Actor{UserID: dpo.UserID, Role: breach.RoleApprover}, breach.StageInitial, 0, 1))
	h.update(hours(3), gdprWF, UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	f := h.update(hours(4), gdprWF, UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(4), ""))
	var view IncidentView
	h.query(hours(5), "", &view)
	noSummary := h.update(hours(6), "", UpdateClose, CloseUpdate{Actor: dpo})
	byApprover := h.update(hours(6), "", UpdateClose, CloseUpdate{Actor: approverA, Summary: "x"})
	c := h.update(hours(7), "", UpdateClose, closeUpdate())
	h.runIncident(IncidentParams{Regimes: []breach.RegimeCode{breach.RegimeNIS2, breach.RegimeGDPR, breach.RegimeNIS2}})
	rejected(t, selfApproval, breach.ErrForbidden)
	accepted(t, f)
	rejected(t, noSummary, breach.ErrInvalid)
	rejected(t, byApprover, breach.ErrForbidden)
	accepted(t, c)
	// It ends after the purge, the default retention after the closure.
	if got := h.env.Now().Sub(t0); got != hours(7)+breach.DefaultRetentionAfterClose {
		t.Errorf("incident ended at T+%s, want T+7h+%s", got, breach.DefaultRetentionAfterClose)
	}
	if len(h.closes) != 1 || h.closes[0].OpKey != incidentWF+"/upd-7" {
		t.Errorf("closes %+v", h.closes)
	}
	if len(view.Regimes) != 2 {
		t.Errorf("regimes %+v", view.Regimes)
	}
	found := false
	for _, d := range view.Deadlines {
		if d.Regime == breach.RegimeGDPR && d.Stage == breach.StageInitial {
			found = true
			if !d.Filed {
				t.Errorf("incident view does not know the GDPR filing: %+v", d)
			}
		}
	}
	if !found {
		t.Errorf("no gdpr deadline in %+v", view.Deadlines)
	}
	equalLists(t, "alarms", h.alarmList(), []string{"nis2 early_warning reminder -24h0m0s @T+0s"})
}

// TestIncidentRejectsBadParams: an unknown regime or a missing aware_at fails
// the start with a domain error naming the field.
func TestIncidentRejectsBadParams(t *testing.T) {
	for _, p := range []IncidentParams{
		{IncidentID: incidentID, AwareAt: t0, Regimes: []breach.RegimeCode{"hipaa"}},
		{IncidentID: incidentID},
		{AwareAt: t0},
	} {
		h := newHarness(t)
		h.env.ExecuteWorkflow(IncidentWorkflowName, p)
		err := h.env.GetWorkflowError()
		if de := DomainError(err); de == nil || de.Code != breach.ErrInvalid || de.Field == "" {
			t.Errorf("params %+v: error %v", p, err)
		}
	}
}

// TestIncidentPurgesAfterRetention: closing the incident dates the purge
// (closure + RetentionAfterClose); the incident waits for its children, then
// for that date on a durable timer, runs PurgePeople exactly then, once, with
// its op key, shows the date and the result in its view, and ends. Updates
// during the wait are refused: the incident is closed.
func TestIncidentPurgesAfterRetention(t *testing.T) {
	const retention = 30 * 24 * time.Hour
	closeAt := hours(50)
	h := newHarness(t)
	c := h.update(closeAt, "", UpdateClose, closeUpdate())
	var open, waiting, justBefore IncidentView
	h.query(hours(49), "", &open)
	h.query(closeAt+time.Hour, "", &waiting)
	h.query(closeAt+retention-time.Second, "", &justBefore)
	late := h.update(closeAt+24*time.Hour, "", UpdateAssess, AssessUpdate{Actor: dpo, Reason: "after closure"})
	purgesBefore := -1
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		purgesBefore = len(h.purges)
	}, closeAt+retention-time.Second)
	h.runIncident(IncidentParams{RetentionAfterClose: retention})
	accepted(t, c)
	rejected(t, late, breach.ErrConflict)

	if len(h.closes) != 1 || h.closes[0].RetentionAfterClose != retention {
		t.Fatalf("closes %+v", h.closes)
	}
	if purgesBefore != 0 {
		t.Errorf("%d purge(s) before close + retention", purgesBefore)
	}
	if len(h.purges) != 1 {
		t.Fatalf("purges %+v, want exactly one", h.purges)
	}
	p := h.purges[0]
	if got := p.At.Sub(t0); got != closeAt+retention {
		t.Errorf("purge at T+%s, want T+%s (closure + retention)", got, closeAt+retention)
	}
	if p.In.OpKey != incidentWF+"/purge" || p.In.IncidentID != incidentID {
		t.Errorf("purge input %+v", p.In)
	}
	if got := h.env.Now().Sub(t0); got != closeAt+retention {
		t.Errorf("incident ended at T+%s, want right after the purge", got)
	}
	if open.PurgeAt != nil || open.Closed {
		t.Errorf("open incident's view %+v", open)
	}
	want := t0.Add(closeAt + retention)
	if !waiting.Closed || waiting.PurgeAt == nil || !waiting.PurgeAt.Equal(want) || waiting.Purged != nil {
		t.Errorf("view while waiting: %+v", waiting)
	}
	if justBefore.Purged != nil {
		t.Errorf("purged before the date: %+v", justBefore.Purged)
	}
}

// TestIncidentDefaultRetention: without RetentionAfterClose the purge runs
// breach.DefaultRetentionAfterClose (90 days) after the closure.
func TestIncidentDefaultRetention(t *testing.T) {
	h := newHarness(t)
	h.update(hours(2), "", UpdateClose, closeUpdate())
	h.runIncident(IncidentParams{})
	if len(h.closes) != 1 || h.closes[0].RetentionAfterClose != 90*24*time.Hour {
		t.Fatalf("closes %+v", h.closes)
	}
	if len(h.purges) != 1 || h.purges[0].At.Sub(t0) != hours(2)+90*24*time.Hour {
		t.Fatalf("purges %+v", h.purges)
	}
}
