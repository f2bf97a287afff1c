package workflows

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// The monitoring workflow over its whole period, in the SDK's time-skipping
// test environment, its activities standing in for the store: the people
// whose reset is pending (and when they completed it), the reminder letter,
// the reminder sends' ledger rows, the stored signals, the alerts and the
// reports. The SQL behind StartReminder and SeedLedger is tested on a real
// Postgres in internal/store (monitoring_test.go); here the workflow's
// timing and decisions are.

var monitoringWF = breach.MonitoringWorkflowID(incidentID)

func day(n float64) time.Duration { return time.Duration(n * 24 * float64(time.Hour)) }

type fakeSignal struct {
	kind  breach.SignalKind
	count int64
	at    time.Time
}

type fakeReport struct {
	At    time.Duration // after t0
	In    activities.ReportInput
	Final bool
}

type fakeAlert struct {
	At time.Duration
	In activities.AlertInput
}

type fakeRound struct {
	round   int
	at      time.Duration
	cutoff  time.Time
	pending map[int64]bool // people whose reset was pending when the round started
}

// fakeMonitor is the store behind the monitoring activities.
type fakeMonitor struct {
	mu        sync.Mutex
	now       func() time.Time
	completed map[int64]time.Time // people with an account; zero: not completed
	approved  bool                // an approved reminder letter exists
	versions  int
	rounds    []*fakeRound
	sent      map[int][]int64 // round -> people sent to
	seq       int
	signals   []fakeSignal
	alerts    []fakeAlert
	reports   []fakeReport
	states    []activities.SendStateInput
	saves     []activities.SaveReminderInput
	decisions []activities.DecideLetterInput
}

func (f *fakeMonitor) since() time.Duration { return f.now().Sub(t0) }

func (f *fakeMonitor) complete(person int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed[person] = f.now()
}

func (f *fakeMonitor) addSignal(kind breach.SignalKind, count int64, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, fakeSignal{kind, count, at})
}

func (f *fakeMonitor) startReminder(in activities.StartReminderInput) (activities.ReminderRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	rd := &fakeRound{round: in.Round, at: now.Sub(t0), cutoff: now, pending: map[int64]bool{}}
	var lo, hi int64
	for id, at := range f.completed {
		if at.IsZero() || at.After(now) {
			rd.pending[id] = true
			if lo == 0 || id < lo {
				lo = id
			}
			hi = max(hi, id)
		}
	}
	if len(rd.pending) == 0 {
		return activities.ReminderRef{}, nil
	}
	if !f.approved {
		e := &breach.Error{Code: breach.ErrConflict, Field: "letters", Message: fmt.Sprintf("no approved reminder letter in %q", breach.French)}
		return activities.ReminderRef{}, temporal.NewNonRetryableApplicationError(e.Error(), activities.ErrorType(e.Code), nil, e)
	}
	f.rounds = append(f.rounds, rd)
	f.seq++
	return activities.ReminderRef{People: int64(len(rd.pending)), Send: &activities.SendRef{
		ID: fmt.Sprintf("send-%d", f.seq), Seq: f.seq, People: int64(len(rd.pending)), MinPerson: lo, MaxPerson: hi,
		Letters: []breach.ApprovedLetter{{ID: "reminder-fr", Language: breach.French, Version: f.versions, ContentHash: "h"}},
		Policy:  in.Policy, Partitions: min(in.Partitions, len(rd.pending)),
	}}, nil
}

// sendBatch sends the round's reminders in the batch's range to the people
// pending at the round's start, once each.
func (f *fakeMonitor) sendBatch(in activities.SendBatchInput) activities.SendBatchResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rd *fakeRound
	for _, r := range f.rounds {
		if r.round == in.Round {
			rd = r
		}
	}
	res := activities.SendBatchResult{Next: in.To + 1}
	if rd == nil {
		return res
	}
	for id := in.From; id <= in.To; id++ {
		if rd.pending[id] && !slices.Contains(f.sent[in.Round], id) {
			f.sent[in.Round] = append(f.sent[in.Round], id)
			res.Claimed++
			res.Sent++
		}
	}
	return res
}

func (f *fakeMonitor) crossings(in activities.EvaluateSignalsInput) []breach.Crossing {
	f.mu.Lock()
	defer f.mu.Unlock()
	sums := map[string]*breach.Crossing{}
	var keys []string
	for _, s := range f.signals {
		th := in.Thresholds[s.kind]
		if th.Count < 1 {
			continue
		}
		w, from, to := breach.Window(in.Start, s.at, th.Window)
		c := breach.Crossing{Kind: s.kind, Window: w, Threshold: th.Count}
		if th.Window > 0 {
			c.From, c.To = &from, &to
		}
		k := c.Key()
		if sums[k] == nil {
			sums[k] = &c
			keys = append(keys, k)
		}
		sums[k].Observed += s.count
	}
	sort.Strings(keys)
	var out []breach.Crossing
	for _, k := range keys {
		if c := sums[k]; c.Observed >= c.Threshold {
			out = append(out, *c)
		}
	}
	return out
}

func newMonitoringHarness(t *testing.T, people int64) (*harness, *fakeMonitor) {
	h := newHarness(t)
	h.env.SetTestTimeout(60 * time.Second)
	f := &fakeMonitor{now: h.env.Now, completed: map[int64]time.Time{}, sent: map[int][]int64{}}
	for id := int64(1); id <= people; id++ {
		f.completed[id] = time.Time{}
	}
	var a *activities.Activities
	h.env.OnActivity(a.SaveReminder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SaveReminderInput) (activities.LetterRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.saves = append(f.saves, in)
			f.versions++
			return activities.LetterRef{ID: fmt.Sprintf("rem-%s-v%d", in.Language, f.versions), Language: in.Language,
				Version: f.versions, DraftedBy: in.Actor.UserID, EditedBy: in.Actor.UserID, ContentHash: "h"}, nil
		})
	h.env.OnActivity(a.DecideLetter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DecideLetterInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.decisions = append(f.decisions, in)
			f.approved = f.approved || in.Approve
			return nil
		})
	h.env.OnActivity(a.StartReminder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StartReminderInput) (activities.ReminderRef, error) {
			return f.startReminder(in)
		})
	h.env.OnActivity(a.SeedLedger, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SeedInput) (int64, error) {
			if in.Round < 1 {
				return 0, fmt.Errorf("a reminder partition seeded round %d", in.Round)
			}
			return 0, nil
		})
	h.env.OnActivity(a.SendBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendBatchInput) (activities.SendBatchResult, error) {
			if in.Round < 1 {
				return activities.SendBatchResult{}, fmt.Errorf("a reminder batch of round %d", in.Round)
			}
			return f.sendBatch(in), nil
		})
	h.env.OnActivity(a.SetSendState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendStateInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.states = append(f.states, in)
			return nil
		})
	h.env.OnActivity(a.EvaluateSignals, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EvaluateSignalsInput) ([]breach.Crossing, error) {
			return f.crossings(in), nil
		})
	h.env.OnActivity(a.RaiseAlert, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AlertInput) (activities.AlertRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.alerts = append(f.alerts, fakeAlert{At: f.since(), In: in})
			return activities.AlertRef{ID: fmt.Sprintf("alert-%d", len(f.alerts)), Mailed: true}, nil
		})
	h.env.OnActivity(a.WriteReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ReportInput) (activities.ReportRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reports = append(f.reports, fakeReport{At: f.since(), In: in, Final: in.Final})
			return activities.ReportRef{ID: fmt.Sprintf("report-%d", in.Seq), Seq: in.Seq, Final: in.Final, Mailed: true}, nil
		})
	return h, f
}

func (h *harness) runMonitoring(p MonitoringParams) {
	h.t.Helper()
	p.IncidentID = incidentID
	if p.StartedAt.IsZero() {
		p.StartedAt = t0
	}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: monitoringWF})
	h.env.ExecuteWorkflow(MonitoringWorkflowName, p)
	h.finished()
}

func reminderFR() breach.ReminderFields {
	return breach.ReminderFields{Language: breach.French, Subject: "Rappel : réinitialisez votre mot de passe",
		HowToReset: "Tapez l'adresse du site dans votre navigateur et suivez « Mot de passe oublié »."}
}

// at runs fn at T+d.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) abuse(d time.Duration, f *fakeMonitor, kind breach.SignalKind, count int64) {
	h.at(d, func() {
		f.addSignal(kind, count, f.now())
		h.env.SignalWorkflow(SignalAbuse, AbuseSignalBatch{Batch: fmt.Sprintf("b-%s", d), Counts: []breach.SignalCount{{Kind: kind, Count: count}}})
	})
}

func ids(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func sortedIDs(in []int64) []int64 {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}

// TestMonitoringWholePeriod: 90 days with the default settings. Reminder 1
// at day 7 goes to the people whose reset is not completed then, reminder 2
// at day 21 to those still not completed (not to those who completed between
// the two); a report every week and a final one at day 90; an account
// takeover raises one alert however many follow, and 110 suspicious logins
// within one day raise one.
func TestMonitoringWholePeriod(t *testing.T) {
	h, f := newMonitoringHarness(t, 10)
	save := h.update(day(1), "", UpdateSaveReminder, SaveReminderUpdate{Actor: dpo, Language: breach.French, Fields: reminderFR()})
	own := h.update(day(2), "", UpdateDecideReminder, DecideLetterUpdate{Actor: breach.Actor{UserID: dpo.UserID, Role: breach.RoleApprover}, Language: breach.French, Version: 1, Approve: true})
	approve := h.update(day(2)+time.Hour, "", UpdateDecideReminder, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true})
	h.at(day(3), func() { f.complete(1); f.complete(2) })  // before reminder 1
	h.at(day(10), func() { f.complete(3); f.complete(4) }) // between reminder 1 and 2
	h.at(day(30), func() { f.complete(5) })                // after reminder 2
	h.abuse(day(12), f, breach.SignalAccountTakeover, 1)   // crosses (>= 1)
	h.abuse(day(13), f, breach.SignalAccountTakeover, 2)   // same crossing: no new alert
	h.abuse(day(40)+hours(1), f, breach.SignalSuspiciousLogin, 60)
	h.abuse(day(40)+hours(5), f, breach.SignalSuspiciousLogin, 50) // 110 within day 40: crosses
	h.abuse(day(50), f, breach.SignalSuspiciousLogin, 99)          // below 100 in its day
	var mid MonitoringView
	h.query(day(22), "", &mid)
	h.runMonitoring(MonitoringParams{})

	accepted(t, save)
	rejected(t, own, breach.ErrForbidden) // whoever drafted never approves
	accepted(t, approve)

	if got, want := sortedIDs(f.sent[1]), ids(3, 10); !slices.Equal(got, want) {
		t.Errorf("reminder 1 went to %v, want %v (not to 1, 2: completed before day 7)", got, want)
	}
	if got, want := sortedIDs(f.sent[2]), ids(5, 10); !slices.Equal(got, want) {
		t.Errorf("reminder 2 went to %v, want %v (not to 3, 4: completed between day 7 and 21)", got, want)
	}
	if len(f.rounds) != 2 || f.rounds[0].at != day(7) || f.rounds[1].at != day(21) {
		for _, r := range f.rounds {
			t.Logf("round %d at T+%s", r.round, r.at)
		}
		t.Fatalf("want rounds 1 at day 7 and 2 at day 21")
	}
	if len(mid.Rounds) != 2 || mid.Rounds[0].State != RoundCompleted || mid.Rounds[1].State != RoundCompleted || mid.Rounds[1].People != 6 {
		t.Errorf("view at day 22: rounds %+v", mid.Rounds)
	}
	completed := 0
	for _, s := range f.states {
		if s.State == breach.SendCompleted {
			completed++
		}
	}
	if completed != 2 {
		t.Errorf("%d reminder sends recorded completed, want 2: %+v", completed, f.states)
	}

	// Weekly reports at days 7, 14... 84, then the final one at day 90.
	if len(f.reports) != 13 {
		t.Fatalf("%d reports, want 13: %+v", len(f.reports), f.reports)
	}
	for i, r := range f.reports[:12] {
		if r.Final || r.At != day(float64(7*(i+1))) || r.In.Seq != i+1 || !r.In.To.Equal(t0.Add(day(float64(7*(i+1))))) ||
			!r.In.From.Equal(t0.Add(day(float64(7*i)))) {
			t.Errorf("report %d: %+v", i+1, r)
		}
	}
	final := f.reports[12]
	if !final.Final || final.At != day(90) || final.In.Seq != 13 || final.In.EndedEarly || !final.In.To.Equal(t0.Add(day(90))) ||
		!final.In.From.Equal(t0.Add(day(84))) {
		t.Errorf("final report: %+v", final)
	}

	var keys []string
	for _, a := range f.alerts {
		keys = append(keys, fmt.Sprintf("%s@%s", a.In.Crossing.Key(), a.At))
	}
	want := []string{"threshold/account_takeover/0@" + day(12).String(), "threshold/suspicious_login/40@" + (day(40) + hours(5)).String()}
	equalLists(t, "alerts", keys, want)
	if c := f.alerts[1].In.Crossing; c.Observed != 110 || c.Threshold != 100 || c.From == nil || !c.From.Equal(t0.Add(day(40))) {
		t.Errorf("suspicious login crossing: %+v", c)
	}
}

// TestMonitoringCloseEndsEarly: the incident closes at day 10; the
// monitoring writes the final report then, marked as ended early, and the
// second reminder never goes.
func TestMonitoringCloseEndsEarly(t *testing.T) {
	h, f := newMonitoringHarness(t, 4)
	h.update(day(1), "", UpdateSaveReminder, SaveReminderUpdate{Actor: dpo, Language: breach.French, Fields: reminderFR()})
	h.update(day(2), "", UpdateDecideReminder, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true})
	h.signal(day(10), SignalClose, nil)
	h.runMonitoring(MonitoringParams{})

	if end := h.env.Now().Sub(t0); end != day(10) {
		t.Errorf("ended at T+%s, want day 10", end)
	}
	if len(f.reports) != 2 {
		t.Fatalf("%d reports, want the weekly one at day 7 and the final: %+v", len(f.reports), f.reports)
	}
	r := f.reports[1]
	if !r.Final || !r.In.EndedEarly || r.At != day(10) || !r.In.From.Equal(t0.Add(day(7))) || !r.In.To.Equal(t0.Add(day(10))) {
		t.Errorf("final report: %+v", r)
	}
	if len(f.rounds) != 1 || len(f.sent[2]) != 0 {
		t.Errorf("rounds %d, reminder 2 sent to %v: want reminder 1 only", len(f.rounds), f.sent[2])
	}
}

// TestMonitoringReminderWithoutLetter: no reminder is approved when the
// first is due: an alert at day 7, the round goes out when a reminder is
// approved at day 9 (late), and the second keeps its two weeks' spacing
// (day 23, not 21).
func TestMonitoringReminderWithoutLetter(t *testing.T) {
	h, f := newMonitoringHarness(t, 3)
	h.update(day(8), "", UpdateSaveReminder, SaveReminderUpdate{Actor: dpo, Language: breach.French, Fields: reminderFR()})
	h.update(day(9), "", UpdateDecideReminder, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true})
	var v MonitoringView
	h.query(day(8), "", &v)
	h.runMonitoring(MonitoringParams{Period: day(30)})

	if len(f.alerts) != 1 || f.alerts[0].In.Kind != breach.AlertReminderLetterMissing || f.alerts[0].In.Round != 1 || f.alerts[0].At != day(7) {
		t.Fatalf("alerts %+v, want one missing-letter alert for round 1 at day 7", f.alerts)
	}
	if len(v.Rounds) != 2 || v.Rounds[0].State != RoundNoLetter || !v.Rounds[0].Late {
		t.Errorf("view at day 8: %+v", v.Rounds)
	}
	if len(f.rounds) != 2 || f.rounds[0].at != day(9) || f.rounds[1].at != day(23) {
		for _, r := range f.rounds {
			t.Logf("round %d at T+%s", r.round, r.at)
		}
		t.Errorf("want round 1 at day 9 (late) and round 2 at day 23")
	}
	if got := sortedIDs(f.sent[1]); !slices.Equal(got, ids(1, 3)) {
		t.Errorf("reminder 1 went to %v", got)
	}
}

// TestMonitoringParamsRefused: bad parameters fail the workflow at once.
func TestMonitoringParamsRefused(t *testing.T) {
	h, _ := newMonitoringHarness(t, 1)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: monitoringWF})
	h.env.ExecuteWorkflow(MonitoringWorkflowName, MonitoringParams{IncidentID: incidentID, StartedAt: t0,
		ReminderAfter: []time.Duration{day(21), day(7)}})
	if de := DomainError(h.env.GetWorkflowError()); de == nil || de.Field != "reminder_after" {
		t.Fatalf("error %v, want reminder_after refused", h.env.GetWorkflowError())
	}
}
