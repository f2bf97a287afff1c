package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// t0 is when the organisation became aware of the breach in every test.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const incidentID = "inc-test-1"

// Synthetic accounts: IDs only.
var (
	dpo       = breach.Actor{UserID: "u-dpo", Role: breach.RoleDPO}
	approverA = breach.Actor{UserID: "u-appr-a", Role: breach.RoleApprover}
	approverB = breach.Actor{UserID: "u-appr-b", Role: breach.RoleApprover}
	approverC = breach.Actor{UserID: "u-appr-c", Role: breach.RoleApprover}
	auditor   = breach.Actor{UserID: "u-audit", Role: breach.RoleAuditor}
)

// firedAlarm is one RecordAlarm call and the workflow time it happened at.
type firedAlarm struct {
	At time.Time
	In activities.AlarmInput
}

func (f firedAlarm) String() string {
	return fmt.Sprintf("%s %s %s -%s @T+%s", f.In.Regime, f.In.Stage, f.In.Kind, f.In.Before, f.At.Sub(t0))
}

// purgeCall is one PurgePeople call and the workflow time it happened at.
type purgeCall struct {
	At time.Time
	In activities.PurgeInput
}

// harness runs a workflow in the SDK's time-skipping test environment with
// every activity mocked, and records what the activities were asked to do.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu          sync.Mutex
	alarms      []firedAlarm
	saves       []activities.SaveDraftInput
	decisions   []activities.DecideDraftInput
	filings     []activities.FilingInput
	awareMoves  []activities.ChangeAwareAtInput
	assessments []activities.AssessInput
	closes      []activities.CloseInput
	purges      []purgeCall
	versions    map[breach.DraftKey]int
	decided     breach.Risk // what RecordAssessment decides when not overridden
	saveDelay   time.Duration
	nextUpdate  int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetTestTimeout(30 * time.Second)
	Register(env)
	h := &harness{t: t, env: env, versions: map[breach.DraftKey]int{}, decided: breach.RiskSome}
	var a *activities.Activities
	env.OnActivity(a.RecordAlarm, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AlarmInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.alarms = append(h.alarms, firedAlarm{At: env.Now(), In: in})
			return nil
		})
	env.OnActivity(a.SaveDraft, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SaveDraftInput) (activities.DraftRef, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if in.BaseVersion != h.versions[in.Key] {
				return activities.DraftRef{}, fmt.Errorf("store: stale base version %d", in.BaseVersion)
			}
			h.versions[in.Key]++
			v := h.versions[in.Key]
			h.saves = append(h.saves, in)
			return activities.DraftRef{
				ID:              fmt.Sprintf("d-%s-%s-%d-v%d", in.Key.Regime, in.Key.Stage, in.Key.Seq, v),
				Key:             in.Key,
				Version:         v,
				DraftedBy:       in.DraftedBy,
				EditedBy:        in.Actor.UserID,
				ContentHash:     fmt.Sprintf("hash-%d", v),
				HasDelayReasons: in.Fields.DelayReasons != "",
			}, nil
		}).AfterFn(func() time.Duration { return h.saveDelay })
	env.OnActivity(a.DecideDraft, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DecideDraftInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.decisions = append(h.decisions, in)
			return nil
		})
	env.OnActivity(a.RecordFiling, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FilingInput) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.filings = append(h.filings, in)
			return fmt.Sprintf("f-%d", len(h.filings)), nil
		})
	env.OnActivity(a.ChangeAwareAt, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChangeAwareAtInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.awareMoves = append(h.awareMoves, in)
			return nil
		})
	env.OnActivity(a.RecordAssessment, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AssessInput) (activities.AssessResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.assessments = append(h.assessments, in)
			decided := h.decided
			if in.Risk != nil {
				decided = *in.Risk
			}
			return activities.AssessResult{
				AssessmentID: fmt.Sprintf("a-%d", len(h.assessments)),
				Proposed:     h.decided, Decided: decided,
				NotifySA: decided != breach.RiskNone, NotifySubjects: decided == breach.RiskHigh,
			}, nil
		})
	env.OnActivity(a.CloseIncident, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CloseInput) (activities.CloseResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.closes = append(h.closes, in)
			now := env.Now()
			res := activities.CloseResult{State: breach.StateClosed, ClosedAt: &now}
			if in.RetentionAfterClose > 0 { // as the store dates it
				due := now.Add(in.RetentionAfterClose)
				res.PurgeAfter = &due
			}
			return res, nil
		})
	env.OnActivity(a.PurgePeople, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PurgeInput) (activities.PurgeResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.purges = append(h.purges, purgeCall{At: env.Now(), In: in})
			return activities.PurgeResult{People: 3, Purged: 3, Shredded: 3, Key: "destroyed", PurgedAt: env.Now()}, nil
		})
	return h
}

// outcome is what became of one update.
type outcome struct {
	name     string
	at       time.Duration
	sent     bool
	rejected error
	accepted bool
	done     bool
	value    any
	err      error
}

func (o *outcome) String() string {
	return fmt.Sprintf("%s at T+%s", o.name, o.at)
}

// update sends an update at T+at to the workflow (workflowID "" for the one
// under test) and returns its outcome, filled in as the test runs.
func (h *harness) update(at time.Duration, workflowID, name string, arg any) *outcome {
	h.nextUpdate++
	id := fmt.Sprintf("upd-%d", h.nextUpdate)
	o := &outcome{name: name, at: at}
	cb := &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { o.rejected = err },
		OnAccept:   func() { o.accepted = true },
		OnComplete: func(v any, err error) { o.done, o.value, o.err = true, v, err },
	}
	h.env.RegisterDelayedCallback(func() {
		o.sent = true
		if workflowID == "" {
			h.env.UpdateWorkflow(name, id, cb, arg)
			return
		}
		if err := h.env.UpdateWorkflowByID(workflowID, name, id, cb, arg); err != nil {
			o.rejected = err
		}
	}, at)
	return o
}

func (h *harness) signal(at time.Duration, name string, arg any) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(name, arg) }, at)
}

// query runs QueryState at T+at into out.
func (h *harness) query(at time.Duration, workflowID string, out any) {
	h.env.RegisterDelayedCallback(func() {
		var (
			v   converter.EncodedValue
			err error
		)
		if workflowID == "" {
			v, err = h.env.QueryWorkflow(QueryState)
		} else {
			v, err = h.env.QueryWorkflowByID(workflowID, QueryState)
		}
		if err != nil {
			h.t.Errorf("query at T+%s: %v", at, err)
			return
		}
		if err := v.Get(out); err != nil {
			h.t.Errorf("query at T+%s: decode: %v", at, err)
		}
	}, at)
}

// runRegime runs a Regime workflow for one regime, starting at t0.
func (h *harness) runRegime(p RegimeParams) {
	h.t.Helper()
	if p.IncidentID == "" {
		p.IncidentID = incidentID
	}
	if p.AwareAt.IsZero() {
		p.AwareAt = t0
	}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: breach.RegimeWorkflowID(p.IncidentID, p.Regime)})
	h.env.ExecuteWorkflow(RegimeWorkflowName, p)
	h.finished()
}

func (h *harness) finished() {
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow error: %v", err)
	}
}

// accepted asserts the update was accepted and completed without error.
func accepted(t *testing.T, o *outcome) {
	t.Helper()
	switch {
	case !o.sent:
		t.Errorf("%s: never sent", o)
	case o.rejected != nil:
		t.Errorf("%s: rejected: %v", o, o.rejected)
	case !o.done:
		t.Errorf("%s: did not complete", o)
	case o.err != nil:
		t.Errorf("%s: failed: %v", o, o.err)
	}
}

// rejected asserts the update was rejected by its validator with the given
// domain error code.
func rejected(t *testing.T, o *outcome, code breach.Code) {
	t.Helper()
	switch {
	case !o.sent:
		t.Errorf("%s: never sent", o)
	case o.rejected == nil:
		t.Errorf("%s: accepted, want rejected (%s)", o, code)
	default:
		de := DomainError(o.rejected)
		if de == nil || de.Code != code {
			t.Errorf("%s: rejected with %v, want code %s", o, o.rejected, code)
		}
	}
}

// alarmList lists the alarms as "stage kind -before @T+offset" for comparison.
func (h *harness) alarmList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	sorted := slices.Clone(h.alarms)
	// Children run side by side: order alarms of the same instant by name.
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].At.Equal(sorted[j].At) {
			return sorted[i].At.Before(sorted[j].At)
		}
		return sorted[i].String() < sorted[j].String()
	})
	out := make([]string, len(sorted))
	for i, a := range sorted {
		out[i] = a.String()
	}
	return out
}

func equalLists(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s:\n got  %q\n want %q", what, got, want)
			return
		}
	}
}

func fields() breach.DraftFields {
	return breach.DraftFields{
		Language: breach.French, Nature: "synthetic nature", Consequences: "synthetic consequences",
		MeasuresTaken: "synthetic measures", MeasuresProposed: "synthetic proposals",
	}
}

func fieldsLate() breach.DraftFields {
	f := fields()
	f.DelayReasons = "synthetic reasons for delay"
	return f
}

// hours is n hours after t0, as a duration.
func hours(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }

func startOptions(id string) client.StartWorkflowOptions { return client.StartWorkflowOptions{ID: id} }
