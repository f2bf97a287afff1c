package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
)

var credentialsWF = breach.CredentialsWorkflowID(incidentID)

const brokenURL = "identity provider (webhook) misconfigured: webhook.url: no such endpoint at the receiver: HTTP 404"

// fakeResets stands in for account_resets and the identity provider behind
// the credential track's activities: one state per account, a connector
// that breaks after some batches until its configuration is fixed, and the
// accounts the provider reports complete.
type fakeResets struct {
	mu          sync.Mutex
	now         func() time.Time
	n           int64
	state       map[int64]breach.ResetState
	applied     map[int64]int
	completed   map[int64]time.Time
	track       breach.TrackState
	breakAfter  int // batches before the connector breaks (0: never)
	broken      bool
	batches     int
	batchAt     []time.Time
	moves       []activities.ResetStateInput
	polls       []time.Time
	checks      int
	creates     []activities.CreateResetRowsInput
	completeMod int64 // the provider reports accounts with ID % completeMod == 0 complete
}

func newCredentialsHarness(t *testing.T, n int64) (*harness, *fakeResets) {
	h := newHarness(t)
	h.env.SetTestTimeout(60 * time.Second)
	f := &fakeResets{now: h.env.Now, n: n, state: map[int64]breach.ResetState{}, applied: map[int64]int{},
		completed: map[int64]time.Time{}, track: breach.TrackIdle, completeMod: 3}
	var a *activities.Activities
	h.env.OnActivity(a.CheckConnector, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckConnectorInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.checks++
			if in.Config == nil && f.broken {
				return temporal.NewNonRetryableApplicationError(brokenURL, idp.ConfigErrorType, nil)
			}
			return nil
		})
	h.env.OnActivity(a.StartReset, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StartResetInput) (activities.ResetRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.track = breach.TrackRunning
			return activities.ResetRef{StartedAt: f.now(), Round: 1, Accounts: f.n, MinPerson: 1, MaxPerson: f.n}, nil
		})
	h.env.OnActivity(a.SetResetState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ResetStateInput) (activities.ResetRef, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.moves = append(f.moves, in)
			f.track = in.State
			if in.Config != nil {
				f.broken, f.breakAfter = false, 0 // the DPO fixed the URL
			}
			round := 1
			for _, m := range f.moves {
				if m.State == breach.TrackRunning {
					round++
				}
			}
			return activities.ResetRef{Round: round}, nil
		})
	h.env.OnActivity(a.CreateResetRows, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CreateResetRowsInput) (int64, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.creates = append(f.creates, in)
			var made int64
			for id := in.From; id <= in.To; id++ {
				if _, ok := f.state[id]; !ok {
					f.state[id] = breach.ResetPending
					made++
				}
			}
			return made, nil
		})
	h.env.OnActivity(a.ResetBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ResetBatchInput) (activities.ResetBatchResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			res := activities.ResetBatchResult{Next: in.Cursor}
			if f.track != breach.TrackRunning {
				res.Stopped = f.track
				return res, nil
			}
			f.batches++
			if f.breakAfter > 0 && f.batches > f.breakAfter {
				f.broken = true
			}
			if f.broken {
				// As the activity does: the track pauses with the error.
				f.track = breach.TrackPaused
				return res, temporal.NewNonRetryableApplicationError(brokenURL, idp.ConfigErrorType, nil)
			}
			f.batchAt = append(f.batchAt, f.now())
			k := 0
			for id := max(in.Cursor, in.From); id <= in.To && k < in.Limit; id++ {
				if f.state[id] != breach.ResetPending {
					continue
				}
				k++
				f.state[id] = breach.ResetDone
				f.applied[id]++
				res.Claimed++
				res.Done++
				res.Next = id + 1
			}
			if k < in.Limit {
				res.Next = in.To + 1
			}
			return res, nil
		}).After(time.Second)
	h.env.OnActivity(a.PollStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PollStatusInput) (activities.PollStatusResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.polls = append(f.polls, f.now())
			var res activities.PollStatusResult
			for id, s := range f.state {
				if _, ok := f.completed[id]; ok || s != breach.ResetDone {
					continue
				}
				res.Checked++
				// A third more of the accounts complete at each poll.
				if id%f.completeMod == int64(len(f.polls)-1)%f.completeMod {
					f.completed[id] = f.now()
					res.Completed++
				}
			}
			return res, nil
		})
	return h, f
}

func (h *harness) runCredentials() {
	h.t.Helper()
	h.env.SetStartWorkflowOptions(startOptions(credentialsWF))
	h.env.ExecuteWorkflow(CredentialsWorkflowName, CredentialsParams{IncidentID: incidentID})
	h.finished()
}

var webhookConfig = &idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: "https://idp.example.org/breach", Secret: "env:IDP_SECRET"}}

// A misconfigured connector pauses the track, with its error in the view;
// resuming without a fix is refused by the check, resuming with a corrected
// configuration continues where the reset stopped; every account is reset
// once, then the status polls record completions every 6 hours until the
// incident closes.
func TestCredentialsConfigErrorPausesAndResumeContinues(t *testing.T) {
	const n = 5000
	h, f := newCredentialsHarness(t, n)
	f.breakAfter = 10
	opts := ResetOptions{Partitions: 2, BatchSize: 100, BatchesPerRun: 1000, Chunk: 50}
	byApprover := h.update(time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: approverA, Config: webhookConfig})
	noConfig := h.update(time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: dpo})
	badConfig := h.update(time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: dpo,
		Config: &idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: "ftp://x", Secret: "env:S"}}})
	start := h.update(2*time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: dpo, Config: webhookConfig, Options: opts})
	startAgain := h.update(3*time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: dpo, Config: webhookConfig})
	var paused, polling, final CredentialsView
	h.query(30*time.Minute, "", &paused)
	resumeUnfixed := h.update(40*time.Minute, "", UpdateResumeReset, ResumeResetUpdate{Actor: dpo})
	resume := h.update(time.Hour, "", UpdateResumeReset, ResumeResetUpdate{Actor: dpo, Config: webhookConfig})
	h.query(3*time.Hour, "", &polling)
	h.query(20*time.Hour, "", &final)
	h.signal(21*time.Hour, SignalClose, nil)
	h.runCredentials()

	accepted(t, start)
	accepted(t, resume)
	rejected(t, byApprover, breach.ErrForbidden)
	rejected(t, noConfig, breach.ErrInvalid)
	rejected(t, badConfig, breach.ErrInvalid)
	if de := DomainError(badConfig.rejected); de == nil || de.Field != "config.webhook.url" {
		t.Errorf("bad config rejected with %v, want the field config.webhook.url", badConfig.rejected)
	}
	rejected(t, startAgain, breach.ErrConflict)
	if resumeUnfixed.err == nil || DomainError(resumeUnfixed.err) == nil || !strings.Contains(resumeUnfixed.err.Error(), "misconfigured") {
		t.Errorf("resume without a fix: %v (rejected %v), want the connector's error", resumeUnfixed.err, resumeUnfixed.rejected)
	}

	if paused.Phase != breach.TrackPaused || !strings.Contains(paused.Error, "webhook.url") || paused.Running != 0 {
		t.Errorf("paused view: phase %s, error %q, running %d", paused.Phase, paused.Error, paused.Running)
	}
	if paused.StartedAt == nil || !paused.StartedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("started at %v, want T+2m", paused.StartedAt)
	}
	for _, at := range f.batchAt {
		if off := at.Sub(t0); off > 20*time.Minute && off < time.Hour {
			t.Errorf("a batch ran at T+%s while paused", off)
		}
	}
	if polling.Phase != breach.TrackPolling || polling.Round != 2 || polling.Error != "" || polling.ResetDoneAt == nil {
		t.Errorf("view after the reset: phase %s round %d error %q", polling.Phase, polling.Round, polling.Error)
	}
	for id := int64(1); id <= n; id++ {
		if f.state[id] != breach.ResetDone || f.applied[id] != 1 {
			t.Fatalf("account %d: %s, applied %d times", id, f.state[id], f.applied[id])
		}
	}
	// Polls every 6 hours from the end of the reset, until the close.
	if len(f.polls) != 3 {
		t.Errorf("%d polls, want 3 (6, 12 and 18 hours after the reset)", len(f.polls))
	}
	for i := 1; i < len(f.polls); i++ {
		if d := f.polls[i].Sub(f.polls[i-1]); d != 6*time.Hour {
			t.Errorf("polls %d and %d are %s apart", i-1, i, d)
		}
	}
	if final.Polls != 3 || final.Completed != int64(len(f.completed)) || final.Completed != n {
		t.Errorf("final view: %d polls, %d completed (provider: %d)", final.Polls, final.Completed, len(f.completed))
	}
	var moves []breach.TrackState
	for _, m := range f.moves {
		moves = append(moves, m.State)
	}
	want := []breach.TrackState{breach.TrackRunning, breach.TrackPolling, breach.TrackEnded}
	if len(moves) != len(want) || moves[0] != want[0] || moves[1] != want[1] || moves[2] != want[2] {
		t.Errorf("track moves %v, want %v (the pause itself is recorded by the failing batch)", moves, want)
	}
}

// The DPO pauses the reset: no batch runs until the resume. Polling ends on
// its own after PollFor, and the workflow waits for the close.
func TestCredentialsPauseResumeAndPollingPeriodEnds(t *testing.T) {
	const n = 4000
	h, f := newCredentialsHarness(t, n)
	opts := ResetOptions{Partitions: 2, BatchSize: 100, BatchesPerRun: 1000, PollInterval: time.Hour, PollFor: 6 * time.Hour}
	start := h.update(time.Minute, "", UpdateStartReset, StartResetUpdate{Actor: dpo, Config: webhookConfig, Options: opts})
	noReason := h.update(time.Minute+5*time.Second, "", UpdatePauseReset, PauseResetUpdate{Actor: dpo})
	pause := h.update(time.Minute+5*time.Second, "", UpdatePauseReset, PauseResetUpdate{Actor: dpo, Reason: "synthetic: provider maintenance"})
	resume := h.update(30*time.Minute, "", UpdateResumeReset, ResumeResetUpdate{Actor: dpo})
	var paused, ended CredentialsView
	h.query(10*time.Minute, "", &paused)
	h.query(9*time.Hour, "", &ended)
	h.signal(10*time.Hour, SignalClose, nil)
	h.runCredentials()

	accepted(t, start)
	accepted(t, pause)
	accepted(t, resume)
	rejected(t, noReason, breach.ErrInvalid)
	if paused.Phase != breach.TrackPaused || paused.Error != "" {
		t.Errorf("paused view %s %q", paused.Phase, paused.Error)
	}
	done := 0
	for id := int64(1); id <= n; id++ {
		if f.state[id] == breach.ResetDone {
			done++
		}
	}
	if done != n {
		t.Errorf("%d of %d accounts reset", done, n)
	}
	for _, at := range f.batchAt {
		if off := at.Sub(t0); off > time.Minute+10*time.Second && off < 30*time.Minute {
			t.Errorf("a batch ran at T+%s while paused", off)
		}
	}
	// Started at T+1m: polls until T+6h01m, hourly from the end of the reset.
	if len(f.polls) < 4 || len(f.polls) > 6 {
		t.Errorf("%d polls", len(f.polls))
	}
	for _, p := range f.polls {
		if p.After(t0.Add(time.Minute + 6*time.Hour)) {
			t.Errorf("poll at T+%s, after the follow-up period", p.Sub(t0))
		}
	}
	if ended.Phase != breach.TrackEnded || ended.NextPollAt != nil {
		t.Errorf("view after the period: %s next %v", ended.Phase, ended.NextPollAt)
	}
	last := f.moves[len(f.moves)-1]
	if last.State != breach.TrackEnded || last.Reason != "the follow-up period ended" {
		t.Errorf("last move %+v", last)
	}
}

// Closed before the reset was started, the track ends without recording
// anything.
func TestCredentialsCloseWhenIdle(t *testing.T) {
	h, f := newCredentialsHarness(t, 10)
	late := h.update(2*time.Hour, "", UpdateStartReset, StartResetUpdate{Actor: dpo, Config: webhookConfig})
	h.signal(time.Hour, SignalClose, nil)
	h.runCredentials()
	if late.sent && late.rejected == nil && late.err == nil && late.done {
		t.Errorf("start after close accepted")
	}
	if len(f.moves) != 0 || f.checks != 0 {
		t.Errorf("moves %v, checks %d", f.moves, f.checks)
	}
}
