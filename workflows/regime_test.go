package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

func save(actor breach.Actor, stage breach.StageCode, seq, base int, f breach.DraftFields) SaveDraftUpdate {
	return SaveDraftUpdate{Actor: actor, Stage: stage, Seq: seq, BaseVersion: base, Fields: f}
}

func approve(actor breach.Actor, stage breach.StageCode, seq, version int) DecideDraftUpdate {
	return DecideDraftUpdate{Actor: actor, Stage: stage, Seq: seq, Version: version, Approve: true, Comment: "ok"}
}

func file(actor breach.Actor, stage breach.StageCode, seq int, filedAt time.Duration, reasons string) RecordFilingUpdate {
	return RecordFilingUpdate{Actor: actor, Stage: stage, Seq: seq, FiledAt: t0.Add(filedAt),
		Channel: "cnil_online", Reference: "REF-SYNTHETIC", DelayReasons: reasons}
}

// valueOf decodes an update's result.
func valueOf[T any](t *testing.T, o *outcome) T {
	t.Helper()
	var out T
	switch v := o.value.(type) {
	case T:
		return v
	case converter.EncodedValue:
		if err := v.Get(&out); err != nil {
			t.Fatalf("%s: decode result: %v", o, err)
		}
	default:
		t.Fatalf("%s: result of type %T", o, o.value)
	}
	return out
}

// TestRegimeRemindersFireAtOffsets: with the default offsets, GDPR reminders
// go out 48 h, 24 h and 6 h before the 72 h deadline, and the escalation at
// 72 h when nothing was filed (Art. 33(1)).
func TestRegimeRemindersFireAtOffsets(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(80), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial reminder -48h0m0s @T+24h0m0s",
		"gdpr initial reminder -24h0m0s @T+48h0m0s",
		"gdpr initial reminder -6h0m0s @T+66h0m0s",
		"gdpr initial escalation -0s @T+72h0m0s",
	})
	keys := map[string]bool{}
	for _, a := range h.alarms {
		if !a.In.DueAt.Equal(t0.Add(72 * time.Hour)) {
			t.Errorf("alarm %s: due %s", a, a.In.DueAt)
		}
		if a.In.IncidentID != incidentID || !strings.HasPrefix(a.In.OpKey, breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR)+"/") {
			t.Errorf("alarm %s: incident %q op key %q", a, a.In.IncidentID, a.In.OpKey)
		}
		if keys[a.In.OpKey] {
			t.Errorf("op key %q used twice", a.In.OpKey)
		}
		keys[a.In.OpKey] = true
	}
}

// TestRegimeEscalationAt72hWithConfiguredOffsets: configured offsets replace
// the defaults; the escalation is at exactly 72 h after awareness.
func TestRegimeEscalationAt72hWithConfiguredOffsets(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(73), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR, ReminderOffsets: []time.Duration{30 * time.Minute, 2 * time.Hour, -time.Hour}})
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial reminder -2h0m0s @T+70h0m0s",
		"gdpr initial reminder -30m0s @T+71h30m0s",
		"gdpr initial escalation -0s @T+72h0m0s",
	})
	if n := len(h.alarms); n > 0 && h.alarms[n-1].In.Kind != activities.AlarmEscalation {
		t.Errorf("last alarm %s is not the escalation", h.alarms[n-1])
	}
}

// TestRegimeOpenedLateSkipsPastReminders: an incident opened 30 h after
// awareness skips the reminder already past and keeps those still ahead.
func TestRegimeOpenedLateSkipsPastReminders(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(50), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR, AwareAt: t0.Add(-30 * time.Hour)})
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial reminder -24h0m0s @T+18h0m0s",
		"gdpr initial reminder -6h0m0s @T+36h0m0s",
		"gdpr initial escalation -0s @T+42h0m0s",
	})
}

// TestRegimeOpenedPastDeadlineEscalatesAtOnce: past the deadline at start,
// the escalation fires at once; reminders are skipped.
func TestRegimeOpenedPastDeadlineEscalatesAtOnce(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(1), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR, AwareAt: t0.Add(-80 * time.Hour)})
	equalLists(t, "alarms", h.alarmList(), []string{"gdpr initial escalation -0s @T+0s"})
}

// TestRegimeNoEscalationOnceFiled: once the initial notification is filed,
// no more reminders and no escalation.
func TestRegimeNoEscalationOnceFiled(t *testing.T) {
	h := newHarness(t)
	s := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	d := h.update(hours(2), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	f := h.update(hours(30), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(29), ""))
	var view RegimeView
	h.query(hours(31), "", &view)
	h.signal(hours(100), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s)
	accepted(t, d)
	accepted(t, f)
	equalLists(t, "alarms", h.alarmList(), []string{"gdpr initial reminder -48h0m0s @T+24h0m0s"})
	if len(h.filings) != 1 {
		t.Fatalf("filings %d", len(h.filings))
	}
	in := h.filings[0]
	if in.Late || in.DueAt == nil || !in.DueAt.Equal(t0.Add(72*time.Hour)) || in.DraftID != "d-gdpr-initial-1-v1" ||
		in.Key != (breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, Seq: 1}) {
		t.Errorf("filing input %+v", in)
	}
	if want := breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR) + "/upd-3"; in.OpKey != want {
		t.Errorf("op key %q, want %q", in.OpKey, want)
	}
	res := valueOf[FilingResult](t, f)
	if res.FilingID != "f-1" || res.Late {
		t.Errorf("filing result %+v", res)
	}
	if len(view.Deadlines) != 1 || !view.Deadlines[0].Filed || view.NextAlarm != nil ||
		len(view.Drafts) != 1 || view.Drafts[0].State != breach.DraftFiled {
		t.Errorf("view after filing %+v", view)
	}
}

// TestRegimeFourEyes: neither the author of a draft nor the last editor of a
// version may approve it; a third approver may.
func TestRegimeFourEyes(t *testing.T) {
	h := newHarness(t)
	s1 := h.update(hours(1), "", UpdateSaveDraft, save(approverA, breach.StageInitial, 0, 0, fields()))
	byAuthor := h.update(hours(2), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	s2 := h.update(hours(3), "", UpdateSaveDraft, save(approverB, breach.StageInitial, 1, 1, fields()))
	byEditor := h.update(hours(4), "", UpdateDecideDraft, approve(approverB, breach.StageInitial, 1, 2))
	byAuthor2 := h.update(hours(5), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 1, 2))
	ok := h.update(hours(6), "", UpdateDecideDraft, approve(approverC, breach.StageInitial, 1, 2))
	h.signal(hours(7), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s1)
	rejected(t, byAuthor, breach.ErrForbidden)
	accepted(t, s2)
	rejected(t, byEditor, breach.ErrForbidden)
	rejected(t, byAuthor2, breach.ErrForbidden)
	accepted(t, ok)
	if len(h.saves) != 2 || h.saves[1].DraftedBy != approverA.UserID || h.saves[1].Actor != approverB {
		t.Errorf("second save: %+v", h.saves)
	}
	if ref := valueOf[activities.DraftRef](t, s2); ref.Version != 2 || ref.DraftedBy != approverA.UserID || ref.EditedBy != approverB.UserID {
		t.Errorf("second version %+v", ref)
	}
	if len(h.decisions) != 1 || h.decisions[0].Actor != approverC || h.decisions[0].DraftID != "d-gdpr-initial-1-v2" {
		t.Errorf("decisions %+v", h.decisions)
	}
	for _, o := range []*outcome{byAuthor, byEditor} {
		if o.rejected != nil && !strings.Contains(o.rejected.Error(), "four-eyes") {
			t.Errorf("%s: message %q does not name the rule", o, o.rejected)
		}
	}
}

// TestRegimeStaleVersion: approving or editing from a version that is no longer
// current is rejected, as is deciding twice; a returned version needs a new one.
func TestRegimeStaleVersion(t *testing.T) {
	h := newHarness(t)
	s1 := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	s2 := h.update(hours(2), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 1, fields()))
	staleApprove := h.update(hours(3), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	staleSave := h.update(hours(4), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 1, fields()))
	ret := h.update(hours(5), "", UpdateDecideDraft, DecideDraftUpdate{Actor: approverA, Stage: breach.StageInitial, Version: 2, Comment: "synthetic: complete the measures"})
	retNoComment := h.update(hours(5), "", UpdateDecideDraft, DecideDraftUpdate{Actor: approverB, Stage: breach.StageInitial, Version: 2})
	approveReturned := h.update(hours(6), "", UpdateDecideDraft, approve(approverB, breach.StageInitial, 0, 2))
	fileReturned := h.update(hours(6), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(6), ""))
	s3 := h.update(hours(7), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 2, fields()))
	ok := h.update(hours(8), "", UpdateDecideDraft, approve(approverB, breach.StageInitial, 0, 3))
	twice := h.update(hours(9), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 3))
	h.signal(hours(10), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s1)
	accepted(t, s2)
	rejected(t, staleApprove, breach.ErrConflict)
	rejected(t, staleSave, breach.ErrConflict)
	accepted(t, ret)
	rejected(t, retNoComment, breach.ErrInvalid)
	rejected(t, approveReturned, breach.ErrConflict)
	rejected(t, fileReturned, breach.ErrConflict)
	accepted(t, s3)
	accepted(t, ok)
	rejected(t, twice, breach.ErrConflict)
	if st := valueOf[DraftStatus](t, ret); st.State != breach.DraftReturned {
		t.Errorf("returned draft state %s", st.State)
	}
}

// TestRegimeRoles: only approvers decide, only the DPO files, auditors draft nothing.
func TestRegimeRoles(t *testing.T) {
	h := newHarness(t)
	s := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	byAuditor := h.update(hours(2), "", UpdateSaveDraft, save(auditor, breach.StageInitial, 0, 1, fields()))
	byDPO := h.update(hours(3), "", UpdateDecideDraft, approve(breach.Actor{UserID: "u-dpo-2", Role: breach.RoleDPO}, breach.StageInitial, 0, 1))
	byAdmin := h.update(hours(3), "", UpdateDecideDraft, approve(breach.Actor{UserID: "u-admin", Role: breach.RoleAdmin}, breach.StageInitial, 0, 1))
	anonymous := h.update(hours(3), "", UpdateDecideDraft, approve(breach.Actor{Role: breach.RoleApprover}, breach.StageInitial, 0, 1))
	ok := h.update(hours(4), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	fileByApprover := h.update(hours(5), "", UpdateRecordFiling, file(approverA, breach.StageInitial, 0, hours(5), ""))
	h.signal(hours(6), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s)
	rejected(t, byAuditor, breach.ErrForbidden)
	rejected(t, byDPO, breach.ErrForbidden)
	rejected(t, byAdmin, breach.ErrForbidden)
	rejected(t, anonymous, breach.ErrForbidden)
	accepted(t, ok)
	rejected(t, fileByApprover, breach.ErrForbidden)
	if len(h.filings) != 0 {
		t.Errorf("filings %+v", h.filings)
	}
}

// TestRegimeLateApprovalNeedsReasons: past the 72 h deadline, a version without
// reasons for delay cannot be approved (Art. 33(1)); one with reasons can, and
// its filing carries Late and the due time.
func TestRegimeLateApprovalNeedsReasons(t *testing.T) {
	h := newHarness(t)
	s1 := h.update(hours(70), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	onTime := h.update(hours(71), "", UpdateDecideDraft, DecideDraftUpdate{Actor: approverA, Stage: breach.StageInitial, Version: 1, Comment: "synthetic: wording"})
	s2 := h.update(hours(72.5), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 1, fields()))
	late := h.update(hours(73), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 2))
	s3 := h.update(hours(74), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 2, fieldsLate()))
	ok := h.update(hours(75), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 3))
	f := h.update(hours(76), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(76), ""))
	h.signal(hours(77), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s1)
	accepted(t, onTime)
	accepted(t, s2)
	rejected(t, late, breach.ErrInvalid)
	if late.rejected != nil && !strings.Contains(late.rejected.Error(), "reasons for delay are mandatory past the deadline") {
		t.Errorf("late approval message %q", late.rejected)
	}
	accepted(t, s3)
	accepted(t, ok)
	accepted(t, f)
	if len(h.filings) != 1 || !h.filings[0].Late || h.filings[0].DueAt == nil || !h.filings[0].DueAt.Equal(t0.Add(72*time.Hour)) {
		t.Errorf("filings %+v", h.filings)
	}
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial reminder -48h0m0s @T+24h0m0s",
		"gdpr initial reminder -24h0m0s @T+48h0m0s",
		"gdpr initial reminder -6h0m0s @T+66h0m0s",
		"gdpr initial escalation -0s @T+72h0m0s",
	})
}

// TestRegimeLateFilingNeedsReasons: a version approved in time but filed past
// the deadline needs reasons for delay in the filing; a filing dated before the
// deadline is not late; a filing dated in the future is refused.
func TestRegimeLateFilingNeedsReasons(t *testing.T) {
	h := newHarness(t)
	h.update(hours(10), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	h.update(hours(11), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	noReasons := h.update(hours(80), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(80), ""))
	future := h.update(hours(80), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(81), "synthetic reasons"))
	noRef := h.update(hours(80), "", UpdateRecordFiling, RecordFilingUpdate{Actor: dpo, Stage: breach.StageInitial, FiledAt: t0.Add(hours(79)), Channel: "cnil_online", DelayReasons: "x"})
	withReasons := h.update(hours(81), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(81), "synthetic reasons for delay"))
	again := h.update(hours(82), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(82), "synthetic"))
	h.signal(hours(83), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	rejected(t, noReasons, breach.ErrInvalid)
	rejected(t, future, breach.ErrInvalid)
	rejected(t, noRef, breach.ErrInvalid)
	accepted(t, withReasons)
	rejected(t, again, breach.ErrConflict)
	if len(h.filings) != 1 || !h.filings[0].Late || h.filings[0].DelayReasons != "synthetic reasons for delay" {
		t.Errorf("filings %+v", h.filings)
	}
	if res := valueOf[FilingResult](t, withReasons); !res.Late || res.DueAt == nil {
		t.Errorf("filing result %+v", res)
	}

	// Backdated to before the deadline: on time, no reasons needed.
	h2 := newHarness(t)
	h2.update(hours(10), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	h2.update(hours(11), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	backdated := h2.update(hours(80), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 0, hours(71), ""))
	h2.signal(hours(81), SignalClose, nil)
	h2.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, backdated)
	if len(h2.filings) != 1 || h2.filings[0].Late {
		t.Errorf("backdated filing %+v", h2.filings)
	}
}

// TestRegimeAwareAtChangedMovesAlarms: moving aware_at re-arms the reminders
// and the escalation at the new times; the old timers never fire.
func TestRegimeAwareAtChangedMovesAlarms(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(10), SignalAwareAtChanged, t0.Add(-12*time.Hour)) // due T+60h
	h.signal(hours(40), SignalAwareAtChanged, t0.Add(5*time.Hour))   // due T+77h
	var view RegimeView
	h.query(hours(41), "", &view)
	h.signal(hours(90), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial reminder -48h0m0s @T+12h0m0s",
		"gdpr initial reminder -24h0m0s @T+36h0m0s",
		// moved at T+40h to due T+77h: the -48h reminder (T+29h) is already past
		"gdpr initial reminder -24h0m0s @T+53h0m0s",
		"gdpr initial reminder -6h0m0s @T+71h0m0s",
		"gdpr initial escalation -0s @T+77h0m0s",
	})
	if !view.AwareAt.Equal(t0.Add(5*time.Hour)) || len(view.Deadlines) != 1 || !view.Deadlines[0].DueAt.Equal(t0.Add(77*time.Hour)) {
		t.Errorf("view %+v", view)
	}
	if view.NextAlarm == nil || !view.NextAlarm.At.Equal(t0.Add(53*time.Hour)) {
		t.Errorf("next alarm %+v", view.NextAlarm)
	}
}

// TestRegimeOverdueMoveDoesNotReEscalate: moving aware_at while the deadline
// is past does not escalate the stage again; moving it so that the deadline is
// ahead again re-arms reminders and escalation.
func TestRegimeOverdueMoveDoesNotReEscalate(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(1), SignalAwareAtChanged, t0.Add(-81*time.Hour))
	h.signal(hours(2), SignalAwareAtChanged, t0.Add(-10*time.Hour)) // due T+62h
	h.signal(hours(70), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR, AwareAt: t0.Add(-80 * time.Hour)})
	equalLists(t, "alarms", h.alarmList(), []string{
		"gdpr initial escalation -0s @T+0s",
		"gdpr initial reminder -48h0m0s @T+14h0m0s",
		"gdpr initial reminder -24h0m0s @T+38h0m0s",
		"gdpr initial reminder -6h0m0s @T+56h0m0s",
		"gdpr initial escalation -0s @T+62h0m0s",
	})
}

// TestRegimeNIS2Deadlines: early warning at 24 h, notification at 72 h, final
// report one month after the notification's filing (its due time until filed).
func TestRegimeNIS2Deadlines(t *testing.T) {
	h := newHarness(t)
	tooEarly := h.update(hours(20), "", UpdateSaveDraft, save(dpo, breach.StageFinalReport, 0, 0, fields()))
	h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageEarlyWarning, 0, 0, fields()))
	h.update(hours(2), "", UpdateDecideDraft, approve(approverA, breach.StageEarlyWarning, 0, 1))
	ew := h.update(hours(3), "", UpdateRecordFiling, file(dpo, breach.StageEarlyWarning, 0, hours(3), ""))
	var before, after RegimeView
	h.query(hours(40), "", &before)
	h.update(hours(30), "", UpdateSaveDraft, save(dpo, breach.StageNotification, 0, 0, fields()))
	h.update(hours(31), "", UpdateDecideDraft, approve(approverA, breach.StageNotification, 0, 1))
	n := h.update(hours(50), "", UpdateRecordFiling, file(dpo, breach.StageNotification, 0, hours(50), ""))
	h.query(hours(60), "", &after)
	fr := h.update(hours(100), "", UpdateSaveDraft, save(dpo, breach.StageFinalReport, 0, 0, fields()))
	h.signal(hours(800), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeNIS2})
	rejected(t, tooEarly, breach.ErrConflict)
	accepted(t, ew)
	accepted(t, n)
	accepted(t, fr)

	// Notification due 2026-03-05T09:00, final report a month after: 2026-04-05T09:00.
	notifDue := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	wantBefore := map[breach.StageCode]time.Time{
		breach.StageEarlyWarning: t0.Add(24 * time.Hour),
		breach.StageNotification: notifDue,
		breach.StageFinalReport:  time.Date(2026, 4, 5, 9, 0, 0, 0, time.UTC),
	}
	// Notification filed 2026-03-04T11:00: final report due 2026-04-04T11:00, T+794h.
	finalDue := time.Date(2026, 4, 4, 11, 0, 0, 0, time.UTC)
	wantAfter := map[breach.StageCode]time.Time{
		breach.StageEarlyWarning: t0.Add(24 * time.Hour),
		breach.StageNotification: notifDue,
		breach.StageFinalReport:  finalDue,
	}
	for _, c := range []struct {
		view RegimeView
		want map[breach.StageCode]time.Time
	}{{before, wantBefore}, {after, wantAfter}} {
		if len(c.view.Deadlines) != 3 {
			t.Errorf("deadlines %+v", c.view.Deadlines)
			continue
		}
		for _, d := range c.view.Deadlines {
			if !d.DueAt.Equal(c.want[d.Stage]) {
				t.Errorf("%s due %s, want %s", d.Stage, d.DueAt, c.want[d.Stage])
			}
		}
	}
	if got := finalDue.Sub(t0); got != 794*time.Hour {
		t.Fatalf("final report due T+%s", got)
	}
	equalLists(t, "alarms", h.alarmList(), []string{
		"nis2 early_warning reminder -24h0m0s @T+0s",
		"nis2 notification reminder -48h0m0s @T+24h0m0s",
		"nis2 notification reminder -24h0m0s @T+48h0m0s",
		"nis2 final_report reminder -48h0m0s @T+746h0m0s",
		"nis2 final_report reminder -24h0m0s @T+770h0m0s",
		"nis2 final_report reminder -6h0m0s @T+788h0m0s",
		"nis2 final_report escalation -0s @T+794h0m0s",
	})
	if len(h.filings) != 2 || h.filings[1].DueAt == nil || !h.filings[1].DueAt.Equal(notifDue) {
		t.Errorf("filings %+v", h.filings)
	}
}

// TestRegimeNIS2UnfiledEscalations: with nothing filed, each of the three
// deadlines escalates at its time (24 h, 72 h, 72 h + one month).
func TestRegimeNIS2UnfiledEscalations(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(900), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeNIS2, ReminderOffsets: []time.Duration{time.Hour}})
	equalLists(t, "alarms", h.alarmList(), []string{
		"nis2 early_warning reminder -1h0m0s @T+23h0m0s",
		"nis2 early_warning escalation -0s @T+24h0m0s",
		"nis2 notification reminder -1h0m0s @T+71h0m0s",
		"nis2 notification escalation -0s @T+72h0m0s",
		"nis2 final_report reminder -1h0m0s @T+815h0m0s",
		"nis2 final_report escalation -0s @T+816h0m0s",
	})
}

// TestRegimeNotificationNotNeeded: when the DPO decides there is no risk, the
// reminders and escalation stop; if the decision is reversed, the escalation
// still fires (reminders already past are skipped).
func TestRegimeNotificationNotNeeded(t *testing.T) {
	h := newHarness(t)
	h.signal(hours(1), SignalNotificationNeeded, false)
	h.signal(hours(70), SignalNotificationNeeded, true)
	h.signal(hours(80), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	equalLists(t, "alarms", h.alarmList(), []string{"gdpr initial escalation -0s @T+72h0m0s"})

	h2 := newHarness(t)
	h2.signal(hours(1), SignalNotificationNeeded, false)
	var view RegimeView
	h2.query(hours(2), "", &view)
	h2.signal(hours(200), SignalClose, nil)
	h2.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	equalLists(t, "alarms", h2.alarmList(), nil)
	if view.NotificationNeeded || view.NextAlarm != nil {
		t.Errorf("view %+v", view)
	}
}

// TestRegimeComplementaryAndWithdrawal: complementary filings (Art. 33(4)) and
// withdrawal need the initial filing; seq 0 opens the next complementary one
// once the previous is filed; a filed non-repeatable stage cannot be redrafted.
func TestRegimeComplementaryAndWithdrawal(t *testing.T) {
	h := newHarness(t)
	compTooEarly := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageComplementary, 0, 0, fields()))
	wdTooEarly := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageWithdrawal, 0, 0, fields()))
	unknown := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageEarlyWarning, 0, 0, fields()))
	badSeq := h.update(hours(1), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 2, 0, fields()))
	h.update(hours(2), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	h.update(hours(3), "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 1, 1))
	h.update(hours(4), "", UpdateRecordFiling, file(dpo, breach.StageInitial, 1, hours(4), ""))
	refile := h.update(hours(5), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 1, fields()))
	c1 := h.update(hours(6), "", UpdateSaveDraft, save(dpo, breach.StageComplementary, 0, 0, fields()))
	c1again := h.update(hours(7), "", UpdateSaveDraft, save(dpo, breach.StageComplementary, 0, 0, fields()))
	c1v2 := h.update(hours(8), "", UpdateSaveDraft, save(dpo, breach.StageComplementary, 1, 1, fields()))
	noSuch := h.update(hours(8), "", UpdateDecideDraft, approve(approverA, breach.StageComplementary, 5, 1))
	seqless := h.update(hours(8), "", UpdateDecideDraft, approve(approverA, breach.StageComplementary, 0, 2))
	h.update(hours(9), "", UpdateDecideDraft, approve(approverA, breach.StageComplementary, 1, 2))
	cf := h.update(hours(10), "", UpdateRecordFiling, file(dpo, breach.StageComplementary, 1, hours(10), ""))
	c2 := h.update(hours(11), "", UpdateSaveDraft, save(dpo, breach.StageComplementary, 0, 0, fields()))
	wd := h.update(hours(12), "", UpdateSaveDraft, save(dpo, breach.StageWithdrawal, 0, 0, fields()))
	h.signal(hours(13), SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	rejected(t, compTooEarly, breach.ErrConflict)
	rejected(t, wdTooEarly, breach.ErrConflict)
	rejected(t, unknown, breach.ErrInvalid)
	rejected(t, badSeq, breach.ErrInvalid)
	rejected(t, refile, breach.ErrConflict)
	accepted(t, c1)
	rejected(t, c1again, breach.ErrConflict)
	accepted(t, c1v2)
	rejected(t, noSuch, breach.ErrNotFound)
	rejected(t, seqless, breach.ErrInvalid)
	accepted(t, cf)
	accepted(t, c2)
	accepted(t, wd)
	if ref := valueOf[activities.DraftRef](t, c1); ref.Key.Seq != 1 {
		t.Errorf("first complementary %+v", ref)
	}
	if ref := valueOf[activities.DraftRef](t, c2); ref.Key.Seq != 2 || ref.Version != 1 {
		t.Errorf("second complementary %+v", ref)
	}
	if res := valueOf[FilingResult](t, cf); res.DueAt != nil || res.Late {
		t.Errorf("complementary filing %+v", res)
	}
}

// TestRegimeCloseWaitsForInFlightUpdate: a close arriving while an update's
// activity runs lets the update finish before the workflow ends.
func TestRegimeCloseWaitsForInFlightUpdate(t *testing.T) {
	h := newHarness(t)
	h.saveDelay = time.Minute
	s := h.update(hours(10), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	h.signal(hours(10)+time.Second, SignalClose, nil)
	h.runRegime(RegimeParams{Regime: breach.RegimeGDPR})
	accepted(t, s)
	if got := h.env.Now().Sub(t0); got < hours(10)+time.Minute {
		t.Errorf("workflow ended at T+%s, before the update's activity", got)
	}
}

// TestRegimeContinueAsNewCarriesState: when the server suggests it, the
// workflow continues as new with its drafts, filings and alarms; the new run
// neither repeats an alarm nor loses a draft.
func TestRegimeContinueAsNewCarriesState(t *testing.T) {
	h := newHarness(t)
	h.update(hours(25), "", UpdateSaveDraft, save(dpo, breach.StageInitial, 0, 0, fields()))
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, hours(30))
	h.env.SetStartWorkflowOptions(startOptions(breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR)))
	h.env.ExecuteWorkflow(RegimeWorkflowName, RegimeParams{IncidentID: incidentID, Regime: breach.RegimeGDPR, AwareAt: t0})
	var can *workflow.ContinueAsNewError
	if !errors.As(h.env.GetWorkflowError(), &can) {
		t.Fatalf("workflow error %v, want continue-as-new", h.env.GetWorkflowError())
	}
	if can.WorkflowType.Name != RegimeWorkflowName {
		t.Errorf("continued as %q", can.WorkflowType.Name)
	}
	var next RegimeParams
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	equalLists(t, "first run alarms", h.alarmList(), []string{"gdpr initial reminder -48h0m0s @T+24h0m0s"})
	if next.State == nil || len(next.State.Drafts) != 1 || len(next.ReminderOffsets) != 3 {
		t.Fatalf("carried params %+v", next)
	}
	ended := h.env.Now().Sub(t0)

	h2 := newHarness(t)
	h2.env.SetStartTime(t0.Add(ended))
	ok := h2.update(time.Hour, "", UpdateDecideDraft, approve(approverA, breach.StageInitial, 0, 1))
	h2.signal(hours(80)-ended, SignalClose, nil)
	h2.runRegime(next)
	accepted(t, ok)
	equalLists(t, "second run alarms", h2.alarmList(), []string{
		"gdpr initial reminder -24h0m0s @T+48h0m0s",
		"gdpr initial reminder -6h0m0s @T+66h0m0s",
		"gdpr initial escalation -0s @T+72h0m0s",
	})
}
