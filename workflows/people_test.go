package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

var peopleWF = breach.PeopleWorkflowID(incidentID)

// fakeLedger stands in for the ledger behind SeedLedger and SendBatch: one
// state per person, and what the relay answers to some of them.
type fakeLedger struct {
	mu        sync.Mutex
	now       func() time.Time
	state     map[int64]breach.DeliveryState
	attempts  map[int64]int
	retryAt   map[int64]time.Time
	sent      map[int64]int
	defer1    map[int64]bool // the first attempt is refused for now (4xx)
	fail      map[int64]bool // refused for good (5xx)
	sendState breach.SendState
	batches   []activities.SendBatchInput
	batchAt   []time.Time // of the batches that found the send running
	stopped   int
	seeds     []activities.SeedInput
	states    []activities.SendStateInput
	starts    []activities.StartSendInput
	saves     []activities.SaveLetterInput
	decisions []activities.DecideLetterInput
	facts     breach.SendFacts
	versions  map[breach.Language]int
}

func (f *fakeLedger) seed(in activities.SeedInput) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seeds = append(f.seeds, in)
	var n int64
	for id := in.From; id <= in.To; id++ {
		if _, ok := f.state[id]; !ok {
			f.state[id] = breach.DeliveryPending
			n++
		}
	}
	return n
}

func (f *fakeLedger) sendBatch(in activities.SendBatchInput) activities.SendBatchResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	res := activities.SendBatchResult{Next: in.Cursor}
	if f.sendState != breach.SendRunning {
		res.Stopped = f.sendState
		f.stopped++
		return res
	}
	f.batches = append(f.batches, in)
	f.batchAt = append(f.batchAt, now)
	n := 0
	for id := max(in.Cursor, in.From); id <= in.To && n < in.Limit; id++ {
		if f.state[id] != breach.DeliveryPending || f.retryAt[id].After(now) {
			continue
		}
		n++
		f.attempts[id]++
		res.Claimed++
		switch {
		case f.fail[id]:
			f.state[id] = breach.DeliveryFailed
			res.Failed++
		case f.defer1[id] && f.attempts[id] == 1:
			f.retryAt[id] = now.Add(in.RetryBase)
			res.Deferred++
		default:
			f.state[id] = breach.DeliverySent
			f.sent[id]++
			res.Sent++
		}
		res.Next = id + 1
	}
	if n < in.Limit {
		res.Next = in.To + 1
	}
	if res.Next > in.To {
		for id := in.From; id <= in.To; id++ {
			if f.state[id] == breach.DeliveryPending {
				res.Open++
				at := f.retryAt[id]
				if at.Before(now) {
					at = now
				}
				if res.WakeAt == nil || at.Before(*res.WakeAt) {
					w := at
					res.WakeAt = &w
				}
			}
		}
	}
	return res
}

// newPeopleHarness is the harness with the people track's activities mocked
// over a fakeLedger of n people (IDs 1..n), half of them reading English.
func newPeopleHarness(t *testing.T, n int64) (*harness, *fakeLedger) {
	h := newHarness(t)
	f := &fakeLedger{
		now:       h.env.Now,
		state:     map[int64]breach.DeliveryState{},
		attempts:  map[int64]int{},
		retryAt:   map[int64]time.Time{},
		sent:      map[int64]int{},
		defer1:    map[int64]bool{},
		fail:      map[int64]bool{},
		sendState: breach.SendRunning,
		versions:  map[breach.Language]int{},
		facts: breach.SendFacts{
			IncidentState: breach.StateAssessed, People: n, MinPerson: 1, MaxPerson: n,
			Languages:      []breach.LanguageCount{{Language: breach.French, People: n - n/2}, {Language: breach.English, People: n / 2}},
			Risk:           breach.RiskHigh,
			NotifySubjects: true,
		},
	}
	var a *activities.Activities
	h.env.OnActivity(a.SaveLetter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SaveLetterInput) (activities.LetterRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if in.BaseVersion != f.versions[in.Language] {
				return activities.LetterRef{}, fmt.Errorf("store: stale base version %d", in.BaseVersion)
			}
			f.versions[in.Language]++
			v := f.versions[in.Language]
			f.saves = append(f.saves, in)
			drafted := in.Actor.UserID
			for _, s := range f.saves {
				if s.Language == in.Language {
					drafted = s.Actor.UserID
					break
				}
			}
			return activities.LetterRef{ID: fmt.Sprintf("l-%s-v%d", in.Language, v), Language: in.Language, Version: v,
				DraftedBy: drafted, EditedBy: in.Actor.UserID, ContentHash: fmt.Sprintf("hash-%s-%d", in.Language, v)}, nil
		})
	h.env.OnActivity(a.DecideLetter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DecideLetterInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.decisions = append(f.decisions, in)
			return nil
		})
	h.env.OnActivity(a.SendFacts, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendFactsInput) (breach.SendFacts, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.facts, nil
		})
	h.env.OnActivity(a.StartSend, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StartSendInput) (activities.SendRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.starts = append(f.starts, in)
			f.sendState = breach.SendRunning
			return activities.SendRef{ID: fmt.Sprintf("send-%d", len(f.starts)), Seq: len(f.starts), People: f.facts.People,
				MinPerson: f.facts.MinPerson, MaxPerson: f.facts.MaxPerson, Letters: in.Letters, Policy: in.Policy, Partitions: in.Partitions}, nil
		})
	h.env.OnActivity(a.SetSendState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendStateInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.states = append(f.states, in)
			f.sendState = in.State
			return nil
		})
	h.env.OnActivity(a.SeedLedger, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SeedInput) (int64, error) { return f.seed(in), nil })
	h.env.OnActivity(a.SendBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendBatchInput) (activities.SendBatchResult, error) {
			return f.sendBatch(in), nil
		}).After(100 * time.Millisecond)
	return h, f
}

// runPeople runs a People workflow from t0 until it ends (close it with
// SignalClose at the end of the test's script).
func (h *harness) runPeople() {
	h.t.Helper()
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: peopleWF})
	h.env.ExecuteWorkflow(PeopleWorkflowName, PeopleParams{IncidentID: incidentID})
	h.finished()
}

func letterFields(lang breach.Language) breach.LetterFields {
	return breach.LetterFields{Language: lang, Subject: "Synthetic subject", WhatHappened: "Synthetic nature.",
		Consequences: "Synthetic consequences.", MeasuresTaken: "Synthetic measures.", PasswordReset: true}
}

// approveBoth has the DPO draft both letters and approver B approve them,
// from T+at, one minute apart.
func (h *harness) approveBoth(at time.Duration) []*outcome {
	var out []*outcome
	for i, lang := range []breach.Language{breach.French, breach.English} {
		base := at + time.Duration(2*i)*time.Minute
		out = append(out,
			h.update(base, "", UpdateSaveLetter, SaveLetterUpdate{Actor: dpo, Language: lang, Fields: letterFields(lang)}),
			h.update(base+time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: lang, Version: 1, Approve: true}))
	}
	return out
}

func TestPeopleLetterApprovalRules(t *testing.T) {
	h, f := newPeopleHarness(t, 10)
	fr := letterFields(breach.French)
	bad := fr
	bad.Subject = "two\nlines"
	wrongLang := fr
	wrongLang.Language = breach.English

	byAuditor := h.update(time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: auditor, Language: breach.French, Fields: fr})
	badFields := h.update(time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.French, Fields: bad})
	mismatch := h.update(time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.French, Fields: wrongLang})
	badLang := h.update(time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: "de", Fields: fr})
	staleFirst := h.update(time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.French, BaseVersion: 1, Fields: fr})
	decideNone := h.update(time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: breach.French, Version: 1, Approve: true})
	// Approver A drafts version 1.
	v1 := h.update(2*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.French, Fields: fr})
	ownApproval := h.update(3*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true})
	dpoApproval := h.update(3*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: dpo, Language: breach.French, Version: 1, Approve: true})
	returnNoComment := h.update(3*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: breach.French, Version: 1})
	returned := h.update(4*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: breach.French, Version: 1, Comment: "plainer words"})
	approveReturned := h.update(5*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverC, Language: breach.French, Version: 1, Approve: true})
	// Approver B edits it: version 2, drafted by A, edited by B: neither may approve.
	staleSave := h.update(6*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverB, Language: breach.French, BaseVersion: 0, Fields: fr})
	v2 := h.update(6*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverB, Language: breach.French, BaseVersion: 1, Fields: fr})
	editorApproval := h.update(7*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: breach.French, Version: 2, Approve: true})
	authorApproval := h.update(7*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 2, Approve: true})
	staleDecision := h.update(7*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverC, Language: breach.French, Version: 1, Approve: true})
	approved := h.update(8*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverC, Language: breach.French, Version: 2, Approve: true, Comment: "ok"})
	again := h.update(9*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverC, Language: breach.French, Version: 2, Approve: true})
	var view PeopleView
	h.query(10*time.Minute, "", &view)
	h.signal(11*time.Minute, SignalClose, nil)
	afterClose := h.update(12*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.English, Fields: letterFields(breach.English)})
	h.runPeople()

	rejected(t, byAuditor, breach.ErrForbidden)
	rejected(t, badFields, breach.ErrInvalid)
	rejected(t, mismatch, breach.ErrInvalid)
	rejected(t, badLang, breach.ErrInvalid)
	rejected(t, staleFirst, breach.ErrConflict)
	rejected(t, decideNone, breach.ErrNotFound)
	accepted(t, v1)
	rejected(t, ownApproval, breach.ErrForbidden)
	rejected(t, dpoApproval, breach.ErrForbidden)
	rejected(t, returnNoComment, breach.ErrInvalid)
	accepted(t, returned)
	rejected(t, approveReturned, breach.ErrConflict)
	rejected(t, staleSave, breach.ErrConflict)
	accepted(t, v2)
	rejected(t, editorApproval, breach.ErrForbidden)
	rejected(t, authorApproval, breach.ErrForbidden)
	rejected(t, staleDecision, breach.ErrConflict)
	accepted(t, approved)
	rejected(t, again, breach.ErrConflict)
	// The handler's state was closed by the signal before the update came.
	if afterClose.sent && afterClose.rejected == nil && afterClose.err == nil {
		t.Errorf("save after close: accepted")
	}
	if len(view.Letters) != 1 || view.Letters[0].State != breach.LetterApproved || view.Letters[0].Current.Version != 2 ||
		view.Letters[0].Current.DraftedBy != approverA.UserID || view.Letters[0].Current.EditedBy != approverB.UserID {
		t.Errorf("view %+v", view.Letters)
	}
	if len(f.saves) != 2 || len(f.decisions) != 2 || f.decisions[1].LetterID != "l-fr-v2" || f.decisions[0].Approve ||
		f.saves[0].OpKey != peopleWF+"/upd-7" {
		t.Errorf("saves %+v decisions %+v", f.saves, f.decisions)
	}
}

func TestPeopleStartSendPreconditions(t *testing.T) {
	h, f := newPeopleHarness(t, 100)
	f.facts.Risk, f.facts.NotifySubjects = breach.RiskSome, false
	start := func(at time.Duration, actor breach.Actor, reason string) *outcome {
		return h.update(at, "", UpdateStartSend, StartSendUpdate{Actor: actor, Reason: reason})
	}
	noLetters := start(time.Minute, dpo, "")
	frOnly := []*outcome{
		h.update(2*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: dpo, Language: breach.French, Fields: letterFields(breach.French)}),
		h.update(3*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true}),
	}
	byApprover := start(4*time.Minute, approverA, "synthetic")
	missingEnglish := start(4*time.Minute, dpo, "synthetic")
	badPolicy := h.update(4*time.Minute, "", UpdateStartSend, StartSendUpdate{Actor: dpo, Policy: "maybe"})
	badOptions := h.update(4*time.Minute, "", UpdateStartSend, StartSendUpdate{Actor: dpo, Options: SendOptions{Lease: time.Second}})
	en := []*outcome{
		h.update(5*time.Minute, "", UpdateSaveLetter, SaveLetterUpdate{Actor: approverA, Language: breach.English, Fields: letterFields(breach.English)}),
		h.update(6*time.Minute, "", UpdateDecideLetter, DecideLetterUpdate{Actor: approverB, Language: breach.English, Version: 1, Approve: true}),
	}
	// The risk is not high: the DPO must say why the people are told anyway.
	noReason := start(7*time.Minute, dpo, " ")
	started := h.update(8*time.Minute, "", UpdateStartSend, StartSendUpdate{Actor: dpo, Reason: "synthetic: told as a precaution",
		Policy: breach.PolicyHold, Options: SendOptions{Partitions: 3, BatchSize: 10}})
	twice := start(8*time.Minute+50*time.Millisecond, dpo, "synthetic")
	editDuring := h.update(8*time.Minute+50*time.Millisecond, "", UpdateSaveLetter, SaveLetterUpdate{Actor: dpo, Language: breach.French, BaseVersion: 1, Fields: letterFields(breach.French)})
	h.signal(time.Hour, SignalClose, nil)
	h.runPeople()

	rejected(t, noLetters, breach.ErrConflict)
	for _, o := range append(frOnly, en...) {
		accepted(t, o)
	}
	rejected(t, byApprover, breach.ErrForbidden)
	if missingEnglish.err == nil || DomainError(missingEnglish.err) == nil || DomainError(missingEnglish.err).Field != "letters" {
		t.Errorf("start without the English letter: %v / %v", missingEnglish.rejected, missingEnglish.err)
	}
	rejected(t, badPolicy, breach.ErrInvalid)
	rejected(t, badOptions, breach.ErrInvalid)
	if de := DomainError(noReason.err); de == nil || de.Code != breach.ErrInvalid || de.Field != "reason" {
		t.Errorf("start without a reason: %v / %v", noReason.rejected, noReason.err)
	}
	accepted(t, started)
	rejected(t, twice, breach.ErrConflict)
	rejected(t, editDuring, breach.ErrConflict)
	if len(f.starts) != 1 || f.starts[0].Policy != breach.PolicyHold || f.starts[0].Partitions != 3 || len(f.starts[0].Letters) != 2 ||
		f.starts[0].Reason == "" {
		t.Fatalf("starts %+v", f.starts)
	}
	st := valueOf[SendStatus](t, started)
	if len(st.Ranges) != 3 || st.Ranges[0].From != 1 || st.Ranges[2].To != 100 || st.Options.BatchSize != 10 {
		t.Errorf("send status %+v", st)
	}
	if n := len(f.sent); n != 100 {
		t.Errorf("%d people sent, want 100", n)
	}
}

func TestSplitRange(t *testing.T) {
	got := SplitRange(1, 10, 3)
	want := []PartitionRange{{0, 1, 4}, {1, 5, 7}, {2, 8, 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SplitRange(1, 10, 3) = %v, want %v", got, want)
	}
	if got := SplitRange(1, 2, 8); len(got) != 2 || got[1].From != 2 || got[1].To != 2 {
		t.Errorf("SplitRange(1, 2, 8) = %v", got)
	}
	if got := SplitRange(5, 4, 2); got != nil {
		t.Errorf("empty range: %v", got)
	}
}

// TestPeopleFanOutCoversEveryoneAndContinuesAsNew: 4 partitions of 2,500
// people, batches of 300, 3 batches per run: every partition continues as
// new twice, and every person is sent exactly once; a refused-for-now share
// comes back in a later pass; refused for good is not retried.
func TestPeopleFanOutCoversEveryoneAndContinuesAsNew(t *testing.T) {
	const n = 10_000
	h, f := newPeopleHarness(t, n)
	for id := int64(7); id <= n; id += 97 {
		f.defer1[id] = true
	}
	for id := int64(11); id <= n; id += 1009 {
		f.fail[id] = true
	}
	approvals := h.approveBoth(time.Minute)
	start := h.update(10*time.Minute, "", UpdateStartSend, StartSendUpdate{Actor: dpo,
		Options: SendOptions{Partitions: 4, BatchSize: 300, BatchesPerRun: 3, RetryBase: 30 * time.Second}})
	var view PeopleView
	h.query(5*time.Hour, "", &view)
	h.signal(6*time.Hour, SignalClose, nil)
	h.runPeople()
	for _, o := range append(approvals, start) {
		accepted(t, o)
	}
	for id := int64(1); id <= n; id++ {
		want := 1
		if f.fail[id] {
			want = 0
		}
		if f.sent[id] != want {
			t.Fatalf("person %d sent %d times, want %d (state %s)", id, f.sent[id], want, f.state[id])
		}
		if f.fail[id] && f.attempts[id] != 1 {
			t.Fatalf("person %d refused for good was tried %d times", id, f.attempts[id])
		}
	}
	if len(f.seeds) != 4 {
		t.Errorf("%d seeds, want 4", len(f.seeds))
	}
	// 2,500 people in batches of 300: 9 batches for the first pass (the
	// last one finds the end), then a second pass for the deferred ones.
	perPartition := map[int]int{}
	sweeps := 0
	for _, b := range f.batches {
		perPartition[b.Partition]++
		if b.Sweep {
			sweeps++
		}
	}
	for p := range 4 {
		if perPartition[p] < 10 {
			t.Errorf("partition %d ran %d batches", p, perPartition[p])
		}
	}
	if sweeps < 4 {
		t.Errorf("%d sweeps, want one per partition's second pass", sweeps)
	}
	if view.Send == nil || view.Send.State != breach.SendCompleted || view.Send.Finished != 4 {
		t.Fatalf("view %+v", view.Send)
	}
	// 10+ batches at 3 per run: at least 4 runs per partition.
	if view.Send.Runs < 16 || view.Send.Batches != len(f.batches) {
		t.Errorf("runs %d, batches %d (calls %d)", view.Send.Runs, view.Send.Batches, len(f.batches))
	}
	tot := view.Send.Totals
	if tot.Sent != n-len(f.fail) || tot.Failed != len(f.fail) || tot.Deferred != len(f.defer1) {
		t.Errorf("totals %+v (fail %d, defer %d)", tot, len(f.fail), len(f.defer1))
	}
	if len(f.states) != 1 || f.states[0].State != breach.SendCompleted || f.states[0].Actor != breach.System {
		t.Errorf("send states %+v", f.states)
	}
}

// TestPeoplePauseResumeCancel: paused, no batch runs; resumed, the batches go
// on; cancelled, the partitions end and leave the rest pending.
func TestPeoplePauseResumeCancel(t *testing.T) {
	const n = 20_000
	h, f := newPeopleHarness(t, n)
	approvals := h.approveBoth(time.Minute)
	// 20,000 people in 2 partitions of batches of 100 at 100 ms a batch: 10 s.
	// No continue-as-new here (100 batches per partition, fewer than a run):
	// the SDK's test environment can lose a signal's handler while a child
	// is between two runs, which made this test flaky. Continue-as-new is
	// covered by TestPeopleFanOutCoversEveryoneAndContinuesAsNew.
	start := h.update(10*time.Minute, "", UpdateStartSend, StartSendUpdate{Actor: dpo,
		Options: SendOptions{Partitions: 2, BatchSize: 100, BatchesPerRun: 1000}})
	pausedAt := 10*time.Minute + 2*time.Second
	pauseByApprover := h.update(pausedAt, "", UpdatePauseSend, SendControlUpdate{Actor: approverA})
	pause := h.update(pausedAt, "", UpdatePauseSend, SendControlUpdate{Actor: dpo, Reason: "synthetic: relay complaint"})
	pauseAgain := h.update(pausedAt+time.Second, "", UpdatePauseSend, SendControlUpdate{Actor: dpo})
	resumedAt := 40 * time.Minute
	resume := h.update(resumedAt, "", UpdateResumeSend, SendControlUpdate{Actor: dpo})
	cancelNoReason := h.update(resumedAt+2*time.Second, "", UpdateCancelSend, SendControlUpdate{Actor: dpo})
	cancel := h.update(resumedAt+2*time.Second, "", UpdateCancelSend, SendControlUpdate{Actor: dpo, Reason: "synthetic: wrong letter"})
	resumeCancelled := h.update(resumedAt+time.Minute, "", UpdateResumeSend, SendControlUpdate{Actor: dpo})
	var paused, final PeopleView
	h.query(20*time.Minute, "", &paused)
	h.query(2*time.Hour, "", &final)
	h.signal(3*time.Hour, SignalClose, nil)
	h.runPeople()

	for _, o := range append(approvals, start, pause, resume, cancel) {
		accepted(t, o)
	}
	rejected(t, pauseByApprover, breach.ErrForbidden)
	rejected(t, pauseAgain, breach.ErrConflict)
	rejected(t, cancelNoReason, breach.ErrInvalid)
	rejected(t, resumeCancelled, breach.ErrConflict)
	for i, at := range f.batchAt {
		off := at.Sub(t0)
		// A batch that started before the pause may finish after it; none
		// starts between the pause and the resume, or after the cancel
		// (beyond those already running).
		if off > pausedAt+time.Second && off < resumedAt {
			res := f.batches[i]
			t.Errorf("batch of partition %d at T+%s while paused", res.Partition, off)
		}
		if off > resumedAt+3*time.Second {
			t.Errorf("batch at T+%s after the cancel", off)
		}
	}
	if paused.Send == nil || paused.Send.State != breach.SendPaused {
		t.Errorf("paused view %+v", paused.Send)
	}
	if final.Send == nil || final.Send.State != breach.SendCancelled || final.Send.Finished != 2 {
		t.Fatalf("final view %+v", final.Send)
	}
	var sent, pending int
	for id := int64(1); id <= n; id++ {
		switch f.state[id] {
		case breach.DeliverySent:
			sent++
		case breach.DeliveryPending:
			pending++
		}
		if f.sent[id] > 1 {
			t.Fatalf("person %d sent %d times", id, f.sent[id])
		}
	}
	if sent == 0 || pending == 0 || sent+pending != n {
		t.Errorf("sent %d, pending %d of %d", sent, pending, n)
	}
	var got []breach.SendState
	for _, s := range f.states {
		got = append(got, s.State)
	}
	if fmt.Sprint(got) != fmt.Sprint([]breach.SendState{breach.SendPaused, breach.SendRunning, breach.SendCancelled}) {
		t.Errorf("send states %v", got)
	}
}
