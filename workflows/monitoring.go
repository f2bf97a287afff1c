package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// Defaults of the monitoring period (issue 4): 90 days, reminders after 7
// and 21 days, a report every week.
const (
	DefaultMonitoringPeriod = 90 * 24 * time.Hour
	DefaultReportEvery      = 7 * 24 * time.Hour
)

// DefaultReminderAfter are the reminders' offsets from the start of the reset.
var DefaultReminderAfter = []time.Duration{7 * 24 * time.Hour, 21 * 24 * time.Hour}

// MonitoringParams start a Monitoring workflow, ID
// breach.MonitoringWorkflowID(IncidentID). IDs, dates and numbers only.
// Zero values take the defaults; State is carried over continue-as-new.
type MonitoringParams struct {
	IncidentID string `json:"incident_id"`
	// StartedAt is when the forced password reset started: the monitoring
	// period, the reminders and the reports count from it.
	StartedAt time.Time `json:"started_at"`
	// Period is the length of the monitoring period (default 90 days).
	Period time.Duration `json:"period,omitempty"`
	// ReminderAfter are the reminders' offsets from StartedAt (default 7
	// and 21 days), in increasing order: reminder n is round n.
	ReminderAfter []time.Duration `json:"reminder_after,omitempty"`
	// ReportEvery is the interval of the reports to the DPO (default 7 days).
	ReportEvery time.Duration `json:"report_every,omitempty"`
	// Thresholds raise alerts per signal kind; kinds left out take
	// breach.DefaultThresholds; a Count of 0 disables a kind.
	Thresholds map[breach.SignalKind]breach.Threshold `json:"thresholds,omitempty"`
	// Send tunes the reminder sends (partitions, batches), as for the notice.
	Send SendOptions `json:"send,omitempty"`

	State *MonitoringState `json:"state,omitempty"`
}

// withDefaults fills the zero parameters.
func (p MonitoringParams) withDefaults() MonitoringParams {
	if p.Period == 0 {
		p.Period = DefaultMonitoringPeriod
	}
	if p.ReminderAfter == nil {
		p.ReminderAfter = slices.Clone(DefaultReminderAfter)
	}
	if p.ReportEvery == 0 {
		p.ReportEvery = DefaultReportEvery
	}
	th := map[breach.SignalKind]breach.Threshold{}
	for k, t := range breach.DefaultThresholds {
		th[k] = t
	}
	for k, t := range p.Thresholds {
		th[k] = t
	}
	p.Thresholds = th
	p.Send = p.Send.withDefaults()
	return p
}

func (p MonitoringParams) validate() error {
	switch {
	case blank(p.IncidentID):
		return invalidParams("incident_id", "incident_id is required")
	case p.StartedAt.IsZero():
		return invalidParams("started_at", "started_at is required")
	case p.Period < time.Hour:
		return invalidParams("period", "the monitoring period must be at least an hour")
	case p.ReportEvery < time.Hour:
		return invalidParams("report_every", "reports must be at least an hour apart")
	case len(p.ReminderAfter) > 10:
		return invalidParams("reminder_after", "at most 10 reminders")
	}
	for i, d := range p.ReminderAfter {
		if d <= 0 || d >= p.Period || (i > 0 && d <= p.ReminderAfter[i-1]) {
			return invalidParams("reminder_after", "offsets must be positive, increasing and within the period")
		}
	}
	for k, t := range p.Thresholds {
		if !k.Valid() {
			return invalidParams("thresholds", fmt.Sprintf("unknown signal kind %q", k))
		}
		if t.Count < 0 || t.Window < 0 {
			return invalidParams("thresholds", "counts and windows must not be negative")
		}
	}
	if err := p.Send.validate(); err != nil {
		return err
	}
	return nil
}

// Reminder round states.
const (
	RoundDue       = "due"            // not started yet
	RoundNoLetter  = "waiting_letter" // due, no approved reminder letter: alert raised
	RoundRunning   = "running"
	RoundCompleted = "completed"
	RoundSkipped   = "skipped" // nobody's reset was pending when it started
	RoundCancelled = "cancelled"
	RoundExpired   = "expired" // the period ended before it could start
)

// ReminderRound is where one reminder round stands.
type ReminderRound struct {
	Round     int                        `json:"round"`
	DueAt     time.Time                  `json:"due_at"`
	State     string                     `json:"state"`
	Late      bool                       `json:"late,omitempty"` // started after its due time (no letter then)
	StartedAt *time.Time                 `json:"started_at,omitempty"`
	Send      *activities.SendRef        `json:"send,omitempty"`
	People    int64                      `json:"people"`
	Ranges    []PartitionRange           `json:"ranges,omitempty"`
	Totals    activities.SendBatchResult `json:"totals"`
	NextTry   *time.Time                 `json:"next_try,omitempty"` // after an error other than a missing letter
	// Approvals is MonitoringState.Approvals when the round found no
	// approved letter: it tries again after a later approval.
	Approvals int `json:"approvals,omitempty"`
}

// MonitoringState is what a Monitoring workflow keeps: IDs, versions,
// states, dates and counts.
type MonitoringState struct {
	Reminders []LetterStatus              `json:"reminders"` // the reminder letter per language, fr first
	Rounds    []ReminderRound             `json:"rounds"`
	Reports   int                         `json:"reports"`           // reports written
	LastTo    time.Time                   `json:"last_to"`           // end of the last report's period
	Alerted   []string                    `json:"alerted"`           // crossing keys already alerted
	Signals   map[breach.SignalKind]int64 `json:"signals"`           // received, as the batches said
	Batches   []string                    `json:"batches,omitempty"` // signal batches of this run (duplicates ignored)
	Runs      int                         `json:"runs"`
	Approvals int                         `json:"approvals"` // reminder versions approved so far
}

// AbuseSignalBatch is the payload of SignalAbuse: one stored webhook call.
type AbuseSignalBatch struct {
	Batch  string               `json:"batch"`
	Counts []breach.SignalCount `json:"counts"`
}

// SaveReminderUpdate writes the first version of the reminder in a language
// (BaseVersion 0) or a new version of the current one.
type SaveReminderUpdate struct {
	Actor       breach.Actor          `json:"actor"`
	Language    breach.Language       `json:"language"`
	BaseVersion int                   `json:"base_version"`
	Fields      breach.ReminderFields `json:"fields"`
}

// MonitoringView answers QueryState on a Monitoring workflow.
type MonitoringView struct {
	IncidentID string                                 `json:"incident_id"`
	StartedAt  time.Time                              `json:"started_at"`
	EndsAt     time.Time                              `json:"ends_at"`
	Closed     bool                                   `json:"closed"`
	Reminders  []LetterStatus                         `json:"reminders"`
	Rounds     []ReminderRound                        `json:"rounds"`
	Reports    int                                    `json:"reports"`
	NextReport time.Time                              `json:"next_report"`
	Alerted    []string                               `json:"alerted"`
	Signals    map[breach.SignalKind]int64            `json:"signals"`
	Thresholds map[breach.SignalKind]breach.Threshold `json:"thresholds"`
}

// MonitoringWorkflow is the follow-up of an incident after the forced
// password reset (DESIGN.md track 5), ID breach.MonitoringWorkflowID, for
// Period from StartedAt. Durable timers carry it:
//   - at StartedAt + ReminderAfter[n], reminder round n+1: a send of the
//     approved reminder letter to the people whose reset is not completed
//     when it starts, through DeliveryPartition children and the ledger,
//     exactly once per person and round; without an approved reminder it
//     alerts the DPO and sends as soon as one is approved (late). A late
//     round keeps its spacing from the one before;
//   - every ReportEvery, a report to the DPO (deliveries, resets, signals,
//     open deadlines), stored with its hash; a final one at the end;
//   - abuse signals (SignalAbuse) are checked against the thresholds: each
//     window that reaches one raises one alert (email to the DPO, incident
//     timeline) and opens a complementary notification draft pre-filled
//     with the new facts (GDPR Art. 33(4)).
//
// SignalClose (the incident closed) ends it early, with the final report.
// The reminder letter is drafted and approved here (UpdateSaveReminder,
// UpdateDecideReminder: whoever drafted never approves). It continues as new
// when its history grows long (many signal batches), between rounds.
func MonitoringWorkflow(ctx workflow.Context, params MonitoringParams) error {
	p := params.withDefaults()
	if err := p.validate(); err != nil {
		return err
	}
	r := &monitoringRun{p: p, logger: workflow.GetLogger(ctx), mu: workflow.NewMutex(ctx)}
	if p.State != nil {
		r.st = *p.State
	}
	r.st.Runs++
	if r.st.Signals == nil {
		r.st.Signals = map[breach.SignalKind]int64{}
	}
	if len(r.st.Rounds) == 0 {
		for i, d := range p.ReminderAfter {
			r.st.Rounds = append(r.st.Rounds, ReminderRound{Round: i + 1, DueAt: p.StartedAt.Add(d), State: RoundDue})
		}
	}
	if r.st.LastTo.IsZero() {
		r.st.LastTo = p.StartedAt
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, SignalClose).Receive(ctx, nil)
		r.closed = true
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalAbuse)
		for {
			var b AbuseSignalBatch
			ch.Receive(ctx, &b)
			if b.Batch != "" && slices.Contains(r.st.Batches, b.Batch) {
				continue
			}
			r.st.Batches = append(r.st.Batches, b.Batch)
			for _, c := range b.Counts {
				r.st.Signals[c.Kind] += c.Count
			}
			r.evaluate = true
		}
	})
	// Signals stored before this run (or before the workflow started) count too.
	r.evaluate = true
	end := r.end()

	for {
		now := workflow.Now(ctx)
		if r.closed || !now.Before(end) {
			break
		}
		if r.evaluate {
			r.evaluate = false
			r.checkSignals(ctx)
			continue
		}
		if r.active != nil && r.active.finished() {
			r.finishRound(ctx)
			continue
		}
		if rd := r.roundToStart(now); rd != nil {
			r.startRound(ctx, rd)
			continue
		}
		if next := r.nextReportAt(); !now.Before(next) && next.Before(end) {
			// Signals stored while the workflow could not be told (the API
			// stores them first) are checked at the latest with each report.
			r.checkSignals(ctx)
			r.report(ctx, next, false)
			continue
		}
		if r.active == nil && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if r.active == nil && !r.evaluate && !r.closed {
				st := r.st
				st.Batches = nil // a batch is signalled once; duplicates only follow within a run's retries
				next := params
				next.State = &st
				return workflow.NewContinueAsNewError(ctx, MonitoringWorkflowName, next)
			}
			continue
		}
		wake := r.nextWake(now, end)
		approvals := r.st.Approvals
		_, err := workflow.AwaitWithTimeout(ctx, wake.Sub(now), func() bool {
			return r.closed || r.evaluate || (r.active != nil && r.active.finished()) || r.st.Approvals != approvals
		})
		if err != nil {
			return err
		}
	}

	// The end: early (the incident closed) or at the end of the period.
	endedEarly := r.closed && workflow.Now(ctx).Before(end)
	if r.active != nil {
		r.cancelRound(ctx)
	}
	if !endedEarly {
		r.checkSignals(ctx)
	}
	for i := range r.st.Rounds {
		if rd := &r.st.Rounds[i]; rd.State == RoundDue || rd.State == RoundNoLetter {
			rd.State = RoundExpired
		}
	}
	to := workflow.Now(ctx)
	if to.After(end) {
		to = end
	}
	r.endedEarly = endedEarly
	r.report(ctx, to, true)
	r.ended = true
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// monitoringRun is the in-memory state of one run of MonitoringWorkflow.
type monitoringRun struct {
	p          MonitoringParams
	st         MonitoringState
	logger     log.Logger
	mu         workflow.Mutex // serialises the update handlers with the round starts
	closed     bool
	ended      bool
	endedEarly bool
	evaluate   bool // signals arrived: check the thresholds
	active     *activeRound
}

// activeRound is the round whose partitions are sending.
type activeRound struct {
	round    *ReminderRound
	children int
	done     int
}

func (a *activeRound) finished() bool { return a.done >= a.children }

func (r *monitoringRun) end() time.Time { return r.p.StartedAt.Add(r.p.Period) }

func (r *monitoringRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (MonitoringView, error) { return r.view(), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSaveReminder, r.saveReminder,
		workflow.UpdateHandlerOptions{Validator: r.validateSaveReminder}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecideReminder, r.decideReminder,
		workflow.UpdateHandlerOptions{Validator: r.validateDecideReminder})
}

// nextReportAt is when the next weekly report is due.
func (r *monitoringRun) nextReportAt() time.Time {
	return r.p.StartedAt.Add(time.Duration(r.st.Reports+1) * r.p.ReportEvery)
}

// roundToStart is the first round that is due and may start now: rounds go
// one after the other, a round waiting for its letter waits for an approval
// (or a retry time after another error), and a late round keeps its spacing
// from the one before (a person is not reminded twice in a few days).
func (r *monitoringRun) roundToStart(now time.Time) *ReminderRound {
	if r.active != nil {
		return nil
	}
	for i := range r.st.Rounds {
		rd := &r.st.Rounds[i]
		switch rd.State {
		case RoundCompleted, RoundSkipped, RoundCancelled, RoundExpired:
			continue
		case RoundRunning:
			return nil
		}
		if now.Before(r.dueAt(i)) {
			return nil
		}
		if rd.NextTry != nil && now.Before(*rd.NextTry) {
			return nil
		}
		if rd.State == RoundNoLetter && (rd.Approvals == r.st.Approvals || !r.reminderApproved()) {
			return nil
		}
		return rd
	}
	return nil
}

// dueAt is round i's due time, pushed back when the round before started late.
func (r *monitoringRun) dueAt(i int) time.Time {
	due := r.st.Rounds[i].DueAt
	if i > 0 {
		prev := r.st.Rounds[i-1]
		if prev.StartedAt != nil {
			spaced := prev.StartedAt.Add(r.p.ReminderAfter[i] - r.p.ReminderAfter[i-1])
			if spaced.After(due) {
				due = spaced
			}
		}
	}
	return due
}

// nextWake is the next time something is due: a round, a retry, a report,
// the end.
func (r *monitoringRun) nextWake(now, end time.Time) time.Time {
	wake := end
	consider := func(t time.Time) {
		if t.After(now) && t.Before(wake) {
			wake = t
		}
	}
	consider(r.nextReportAt())
	for i, rd := range r.st.Rounds {
		if rd.State == RoundDue || rd.State == RoundNoLetter {
			consider(r.dueAt(i))
			if rd.NextTry != nil {
				consider(*rd.NextTry)
			}
			break
		}
	}
	if !wake.After(now) {
		wake = now.Add(time.Minute)
	}
	return wake
}

// reminderApproved: every language with a reminder has its current version
// approved, and there is at least one.
func (r *monitoringRun) reminderApproved() bool {
	if len(r.st.Reminders) == 0 {
		return false
	}
	for _, l := range r.st.Reminders {
		if l.State != breach.LetterApproved {
			return false
		}
	}
	return true
}

// monitoringActivityCtx runs the monitoring's own activities: retried until
// done (a relay that is down, a regime busy), each within a few minutes.
func monitoringActivityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	})
}

func (r *monitoringRun) opKey(ctx workflow.Context, suffix string) string {
	return workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + suffix
}

// checkSignals raises an alert for each threshold crossing not alerted yet.
func (r *monitoringRun) checkSignals(ctx workflow.Context) {
	var a *activities.Activities
	var crossings []breach.Crossing
	err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.EvaluateSignals, activities.EvaluateSignalsInput{
		IncidentID: r.p.IncidentID, Start: r.p.StartedAt, Thresholds: r.p.Thresholds,
	}).Get(ctx, &crossings)
	if err != nil {
		r.logger.Error("evaluating the abuse signals failed", "error", err)
		return
	}
	for _, c := range crossings {
		key := c.Key()
		if slices.Contains(r.st.Alerted, key) {
			continue // once per kind and window, not per signal
		}
		var ref activities.AlertRef
		err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.RaiseAlert, activities.AlertInput{
			OpKey: r.opKey(ctx, "alert/"+key), RunID: runID(ctx), IncidentID: r.p.IncidentID,
			Kind: breach.AlertThreshold, Crossing: &c,
		}).Get(ctx, &ref)
		if err != nil {
			r.logger.Error("raising an alert failed", "key", key, "error", err)
			continue
		}
		r.st.Alerted = append(r.st.Alerted, key)
	}
}

// startRound starts a reminder round: the send and its partitions.
func (r *monitoringRun) startRound(ctx workflow.Context, rd *ReminderRound) {
	if err := r.mu.Lock(ctx); err != nil {
		return
	}
	defer r.mu.Unlock()
	now := workflow.Now(ctx)
	var a *activities.Activities
	var ref activities.ReminderRef
	err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.StartReminder, activities.StartReminderInput{
		OpKey: r.opKey(ctx, fmt.Sprintf("reminder/%d", rd.Round)), RunID: runID(ctx), IncidentID: r.p.IncidentID,
		Round: rd.Round, Partitions: r.p.Send.Partitions, Policy: breach.PolicyResend,
	}).Get(ctx, &ref)
	if err != nil {
		de := DomainError(err)
		if de != nil && de.Field == "letters" {
			// No approved reminder letter: tell the DPO once, then wait for an
			// approval (reminderApproved) and send late.
			if rd.State != RoundNoLetter {
				err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.RaiseAlert, activities.AlertInput{
					OpKey: r.opKey(ctx, fmt.Sprintf("alert/reminder_letter/%d", rd.Round)), RunID: runID(ctx),
					IncidentID: r.p.IncidentID, Kind: breach.AlertReminderLetterMissing, Round: rd.Round, Reason: de.Message,
				}).Get(ctx, nil)
				if err != nil {
					r.logger.Error("raising the missing-letter alert failed", "round", rd.Round, "error", err)
				}
			}
			// An approved letter that does not cover a language still
			// waiting must not make the round spin: wait for a new approval.
			rd.State, rd.Late, rd.NextTry, rd.Approvals = RoundNoLetter, true, nil, r.st.Approvals
			return
		}
		r.logger.Error("starting a reminder round failed; trying again in an hour", "round", rd.Round, "error", err)
		next := now.Add(time.Hour)
		rd.NextTry = &next
		return
	}
	rd.NextTry = nil
	rd.StartedAt = &now
	rd.People = ref.People
	if ref.Send == nil {
		rd.State = RoundSkipped
		return
	}
	rd.State, rd.Send = RoundRunning, ref.Send
	rd.Ranges = SplitRange(ref.Send.MinPerson, ref.Send.MaxPerson, ref.Send.Partitions)
	r.active = &activeRound{round: rd, children: len(rd.Ranges)}
	futures := make([]workflow.ChildWorkflowFuture, len(rd.Ranges))
	for i, pr := range rd.Ranges {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.MonitoringPartitionWorkflowID(r.p.IncidentID, ref.Send.Seq, pr.Partition),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, DeliveryPartitionWorkflowName, PartitionParams{
			IncidentID: r.p.IncidentID, SendID: ref.Send.ID, Seq: ref.Send.Seq, Partition: pr.Partition,
			Letters: ref.Send.Letters, Policy: ref.Send.Policy, From: pr.From, To: pr.To, Options: r.p.Send,
			Round: rd.Round,
		})
	}
	act := r.active
	for i, f := range futures {
		workflow.Go(ctx, func(ctx workflow.Context) {
			var res PartitionResult
			if err := f.Get(ctx, &res); err != nil {
				r.logger.Error("reminder partition ended with an error", "round", rd.Round, "partition", rd.Ranges[i].Partition, "error", err)
			}
			act.round.Totals.Add(res.Totals)
			act.done++
		})
	}
}

// finishRound records the end of the active round's send.
func (r *monitoringRun) finishRound(ctx workflow.Context) {
	rd := r.active.round
	r.active = nil
	if rd.State != RoundRunning {
		return
	}
	var a *activities.Activities
	err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.SetSendState, activities.SendStateInput{
		OpKey: r.opKey(ctx, fmt.Sprintf("reminder/%d/completed", rd.Round)), RunID: runID(ctx), IncidentID: r.p.IncidentID,
		SendID: rd.Send.ID, Actor: breach.System, State: breach.SendCompleted,
	}).Get(ctx, nil)
	if err != nil {
		r.logger.Error("recording the end of a reminder round failed", "round", rd.Round, "error", err)
	}
	rd.State = RoundCompleted
}

// cancelRound stops the active round when the monitoring ends early: its
// partitions stop after their chunk; rows not sent stay pending.
func (r *monitoringRun) cancelRound(ctx workflow.Context) {
	rd := r.active.round
	var a *activities.Activities
	err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.SetSendState, activities.SendStateInput{
		OpKey: r.opKey(ctx, fmt.Sprintf("reminder/%d/cancelled", rd.Round)), RunID: runID(ctx), IncidentID: r.p.IncidentID,
		SendID: rd.Send.ID, Actor: breach.System, State: breach.SendCancelled, Reason: "the incident was closed: monitoring ended",
	}).Get(ctx, nil)
	if err != nil {
		r.logger.Error("recording the cancellation of a reminder round failed", "round", rd.Round, "error", err)
	}
	for _, pr := range rd.Ranges {
		id := breach.MonitoringPartitionWorkflowID(r.p.IncidentID, rd.Send.Seq, pr.Partition)
		if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalSendState, breach.SendCancelled).Get(ctx, nil); err != nil {
			r.logger.Info("signal to a reminder partition not delivered", "partition", pr.Partition, "error", err)
		}
	}
	act := r.active
	_ = workflow.Await(ctx, act.finished)
	rd.State = RoundCancelled
	r.active = nil
}

// report writes a report for the period from the last one's end to `to`.
func (r *monitoringRun) report(ctx workflow.Context, to time.Time, final bool) {
	seq := r.st.Reports + 1
	var a *activities.Activities
	var ref activities.ReportRef
	err := workflow.ExecuteActivity(monitoringActivityCtx(ctx), a.WriteReport, activities.ReportInput{
		OpKey: r.opKey(ctx, fmt.Sprintf("report/%d", seq)), IncidentID: r.p.IncidentID, Seq: seq, Final: final,
		EndedEarly: final && r.endedEarly, From: r.st.LastTo, To: to, Start: r.p.StartedAt, End: r.end(),
	}).Get(ctx, &ref)
	if err != nil {
		r.logger.Error("writing a report failed", "seq", seq, "error", err)
	}
	// Counted even when it failed: the next report covers from its end, and
	// a failing report must not stop the monitoring.
	r.st.Reports = seq
	r.st.LastTo = to
}

// ---- the reminder letter ---------------------------------------------------

func (r *monitoringRun) reminder(lang breach.Language) *LetterStatus {
	for i := range r.st.Reminders {
		if r.st.Reminders[i].Language == lang {
			return &r.st.Reminders[i]
		}
	}
	return nil
}

func (r *monitoringRun) open() error {
	if r.closed || r.ended {
		return reject(breach.ErrConflict, "", "the monitoring has ended")
	}
	return nil
}

func (r *monitoringRun) notWhileSending() error {
	if r.active != nil {
		return reject(breach.ErrConflict, "", "reminder round %d is sending: the reminder may not change while it is active", r.active.round.Round)
	}
	return nil
}

func (r *monitoringRun) validateSaveReminder(ctx workflow.Context, u SaveReminderUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO, breach.RoleApprover); err != nil {
		return err
	}
	if err := validLanguage(u.Language); err != nil {
		return err
	}
	if u.Fields.Language != u.Language {
		return reject(breach.ErrInvalid, "fields.language", "must be the reminder's language %q", u.Language)
	}
	if err := u.Fields.Validate(); err != nil {
		de := DomainError(err)
		if de == nil {
			de = &breach.Error{Code: breach.ErrInvalid, Message: err.Error()}
		}
		return reject(breach.ErrInvalid, "fields."+de.Field, "%s", de.Message)
	}
	if err := r.notWhileSending(); err != nil {
		return err
	}
	current := 0
	if l := r.reminder(u.Language); l != nil {
		current = l.Current.Version
	}
	if u.BaseVersion != current {
		return reject(breach.ErrConflict, "base_version", "stale version: base version %d, current version %d", u.BaseVersion, current)
	}
	return nil
}

func (r *monitoringRun) saveReminder(ctx workflow.Context, u SaveReminderUpdate) (activities.LetterRef, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return activities.LetterRef{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateSaveReminder(ctx, u); err != nil {
		return activities.LetterRef{}, err
	}
	var a *activities.Activities
	var ref activities.LetterRef
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SaveReminder, activities.SaveReminderInput{
		OpKey: updateOpKey(ctx), RunID: runID(ctx), IncidentID: r.p.IncidentID,
		Language: u.Language, BaseVersion: u.BaseVersion, Actor: u.Actor, Fields: u.Fields,
	}).Get(ctx, &ref)
	if err != nil {
		return activities.LetterRef{}, err
	}
	if l := r.reminder(u.Language); l != nil {
		l.Current, l.State = ref, breach.LetterPending
	} else {
		r.st.Reminders = append(r.st.Reminders, LetterStatus{Language: u.Language, Current: ref, State: breach.LetterPending})
		slices.SortFunc(r.st.Reminders, func(a, b LetterStatus) int { return languageOrder(a.Language) - languageOrder(b.Language) })
	}
	return ref, nil
}

func (r *monitoringRun) validateDecideReminder(ctx workflow.Context, u DecideLetterUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleApprover); err != nil {
		return err
	}
	if err := validLanguage(u.Language); err != nil {
		return err
	}
	l := r.reminder(u.Language)
	if l == nil {
		return reject(breach.ErrNotFound, "language", "no reminder in %q yet", u.Language)
	}
	if err := r.notWhileSending(); err != nil {
		return err
	}
	if u.Version != l.Current.Version {
		return reject(breach.ErrConflict, "version", "version %d is not the current version (%d)", u.Version, l.Current.Version)
	}
	if l.State != breach.LetterPending {
		return reject(breach.ErrConflict, "version", "version %d was already decided (%s)", u.Version, l.State)
	}
	// Four-eyes: whoever wrote a text never approves it.
	if u.Actor.UserID == l.Current.DraftedBy {
		return reject(breach.ErrForbidden, "actor", "four-eyes: the author of the reminder may not decide on it")
	}
	if u.Actor.UserID == l.Current.EditedBy {
		return reject(breach.ErrForbidden, "actor", "four-eyes: the last editor of this version may not decide on it")
	}
	if !u.Approve && blank(u.Comment) {
		return reject(breach.ErrInvalid, "comment", "a returned reminder needs a comment saying what to change")
	}
	return nil
}

func (r *monitoringRun) decideReminder(ctx workflow.Context, u DecideLetterUpdate) (LetterStatus, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return LetterStatus{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateDecideReminder(ctx, u); err != nil {
		return LetterStatus{}, err
	}
	l := r.reminder(u.Language)
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.DecideLetter, activities.DecideLetterInput{
		OpKey: updateOpKey(ctx), RunID: runID(ctx), IncidentID: r.p.IncidentID,
		LetterID: l.Current.ID, Actor: u.Actor, Approve: u.Approve, Comment: u.Comment,
	}).Get(ctx, nil)
	if err != nil {
		return LetterStatus{}, err
	}
	l = r.reminder(u.Language)
	if u.Approve {
		l.State = breach.LetterApproved
		r.st.Approvals++
	} else {
		l.State = breach.LetterReturned
	}
	return *l, nil
}

// view answers QueryState.
func (r *monitoringRun) view() MonitoringView {
	v := MonitoringView{
		IncidentID: r.p.IncidentID, StartedAt: r.p.StartedAt, EndsAt: r.end(), Closed: r.closed || r.ended,
		Reminders: slices.Clone(r.st.Reminders), Rounds: slices.Clone(r.st.Rounds), Reports: r.st.Reports,
		NextReport: r.nextReportAt(), Alerted: slices.Clone(r.st.Alerted), Signals: map[breach.SignalKind]int64{},
		Thresholds: r.p.Thresholds,
	}
	for k, n := range r.st.Signals {
		v.Signals[k] = n
	}
	return v
}
