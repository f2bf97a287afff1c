package app

import (
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

func describe(steps []Step) string {
	var out []string
	for _, s := range steps {
		d := string(s.Role) + ":" + string(s.Kind)
		if s.Key.Stage != "" {
			d += "/" + string(s.Key.Regime) + "." + string(s.Key.Stage)
		}
		if s.Optional {
			d += "?"
		}
		out = append(out, d)
	}
	return strings.Join(out, " ")
}

func TestStepsAlongTheTrack(t *testing.T) {
	dpo := breach.Actor{UserID: "u-dpo", Role: breach.RoleDPO}
	alice := breach.Actor{UserID: "u-alice", Role: breach.RoleApprover}
	bob := breach.Actor{UserID: "u-bob", Role: breach.RoleApprover}
	auditor := breach.Actor{UserID: "u-aud", Role: breach.RoleAuditor}
	initial := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, Seq: 1}
	draft := func(v int, state breach.DraftState, by, edited string) breach.DraftVersion {
		return breach.DraftVersion{ID: "d" + string(rune('0'+v)), Key: initial, Version: v, State: state, DraftedBy: by, EditedBy: edited}
	}

	st := IncidentState{State: breach.StateOpen}
	if got := describe(Waiting(st)); got != "dpo:assess" {
		t.Errorf("open: waiting %s", got)
	}
	if got := describe(Actions(auditor, st)); got != "" {
		t.Errorf("auditor actions: %s", got)
	}

	st = IncidentState{State: breach.StateAssessed, Assessed: true, Decided: breach.RiskHigh}
	if got := describe(Waiting(st)); got != "dpo:draft/gdpr.initial" {
		t.Errorf("assessed: waiting %s", got)
	}
	if got := describe(Actions(alice, st)); got != "dpo:draft/gdpr.initial" {
		t.Errorf("approver may draft: %s", got)
	}

	// Version 1 by the DPO, pending: an approver decides, not the DPO.
	st.Drafts = []breach.DraftVersion{draft(1, breach.DraftPending, dpo.UserID, dpo.UserID)}
	if got := describe(Waiting(st)); got != "approver:decide/gdpr.initial" {
		t.Errorf("pending: waiting %s", got)
	}
	if got := describe(Actions(alice, st)); !strings.Contains(got, "approver:decide") {
		t.Errorf("alice may decide: %s", got)
	}
	if got := describe(Actions(dpo, st)); strings.Contains(got, "decide") || !strings.Contains(got, "edit_draft") {
		t.Errorf("DPO on a pending draft: %s", got)
	}
	// Version 2 edited by Alice: Alice may not decide, Bob may.
	st.Drafts = append(st.Drafts, draft(2, breach.DraftPending, dpo.UserID, alice.UserID))
	st.Drafts[0].State = breach.DraftSuperseded
	if MayDecide(alice, st, st.Drafts[1]) || !MayDecide(bob, st, st.Drafts[1]) || MayDecide(bob, st, st.Drafts[0]) {
		t.Error("four-eyes: the editor may decide, or an old version may be decided")
	}

	// Returned: the DPO revises.
	st.Drafts[1].State = breach.DraftReturned
	if got := describe(Waiting(st)); got != "dpo:revise/gdpr.initial" {
		t.Errorf("returned: waiting %s", got)
	}
	if got := describe(Actions(alice, st)); !strings.Contains(got, "edit_draft") || strings.Contains(got, "revise") {
		t.Errorf("approver on a returned draft: %s", got)
	}

	// Approved: the DPO files.
	st.Drafts[1].State = breach.DraftApproved
	if got := describe(Waiting(st)); got != "dpo:file/gdpr.initial" {
		t.Errorf("approved: waiting %s", got)
	}

	// Filed: closing is what is left; a complementary filing may be drafted.
	st.Drafts[1].State = breach.DraftFiled
	st.Filings = []breach.Filing{{Key: initial, FiledAt: time.Now()}}
	if got := describe(Waiting(st)); got != "dpo:close" {
		t.Errorf("filed: waiting %s", got)
	}
	if got := describe(Actions(dpo, st)); !strings.Contains(got, "dpo:draft/gdpr.complementary?") || !strings.Contains(got, "dpo:close") {
		t.Errorf("after filing, DPO: %s", got)
	}

	// Closed: nothing.
	st.State = breach.StateClosed
	if got := describe(Actions(dpo, st)); got != "" {
		t.Errorf("closed: %s", got)
	}
}

func TestStepsNoRiskAndNIS2(t *testing.T) {
	st := IncidentState{State: breach.StateAssessed, Assessed: true, Decided: breach.RiskNone}
	if got := describe(Waiting(st)); got != "dpo:close" {
		t.Errorf("no risk: waiting %s", got)
	}
	aware := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if _, ok := NextDeadline(st, aware); ok {
		t.Error("no risk: a GDPR deadline is still shown")
	}
	st.Regimes = []breach.RegimeCode{breach.RegimeNIS2}
	got := describe(Waiting(st))
	if got != "dpo:draft/nis2.early_warning dpo:draft/nis2.notification" {
		t.Errorf("NIS2: waiting %s", got)
	}
	if d, ok := NextDeadline(st, aware); !ok || d.Stage != breach.StageEarlyWarning || !d.DueAt.Equal(aware.Add(24*time.Hour)) {
		t.Errorf("NIS2 next deadline: %+v", d)
	}
	st.Filings = []breach.Filing{{Key: breach.DraftKey{Regime: breach.RegimeNIS2, Stage: breach.StageNotification, Seq: 1}, FiledAt: aware}}
	st.Drafts = []breach.DraftVersion{{ID: "n", Key: breach.DraftKey{Regime: breach.RegimeNIS2, Stage: breach.StageNotification, Seq: 1}, Version: 1, State: breach.DraftFiled}}
	if got := describe(Waiting(st)); !strings.Contains(got, "nis2.final_report") {
		t.Errorf("NIS2 after notification: %s", got)
	}
}
