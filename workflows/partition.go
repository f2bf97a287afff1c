package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// Bounds of a partition's wait between two passes over its range.
const (
	minPassWait = time.Second
	maxPassWait = 5 * time.Minute
	// stoppedWait is how long a partition waits for the People workflow's
	// signal after a batch found the send paused or cancelled in Postgres
	// before the signal arrived.
	stoppedWait = 10 * time.Second
)

// DeliveryPartitionWorkflow sends the letters of one send to the people with
// IDs From..To: it makes their ledger rows (SeedLedger), then runs SendBatch
// activities one after the other, each from the cursor the previous one
// returned, until a pass over the range ends with nothing open. Rows put
// back to pending by a temporary refusal, held by a dead batch until their
// lease ends, or unknown under the resend policy are taken by later passes,
// each starting with a sweep of expired leases. It continues as new every
// Options.BatchesPerRun batches, so that its history stays small. The People
// workflow pauses, resumes and cancels it by SignalSendState: paused, it
// waits; cancelled, it ends and leaves pending rows pending.
func DeliveryPartitionWorkflow(ctx workflow.Context, p PartitionParams) (PartitionResult, error) {
	if blank(p.IncidentID) || blank(p.SendID) || len(p.Letters) == 0 || p.From < 1 || p.From > p.To {
		return PartitionResult{}, invalidParams("partition", "incident, send, letters and a range are required")
	}
	p.Options = p.Options.withDefaults()
	p.Runs++
	logger := workflow.GetLogger(ctx)
	sig := workflow.GetSignalChannel(ctx, SignalSendState)
	state := breach.SendRunning
	if p.Paused {
		state = breach.SendPaused
	}
	apply := func(s breach.SendState) {
		switch s {
		case breach.SendRunning, breach.SendPaused, breach.SendCancelled:
			state = s
		default:
			logger.Warn("ignoring an unknown send state signal", "state", s)
		}
	}
	drain := func() bool {
		got := false
		for {
			var s breach.SendState
			if !sig.ReceiveAsync(&s) {
				return got
			}
			apply(s)
			got = true
		}
	}
	result := func(cancelled bool) PartitionResult {
		return PartitionResult{Partition: p.Partition, Cancelled: cancelled, Passes: p.Pass + 1,
			Batches: p.Batches, Runs: p.Runs, Totals: p.Totals}
	}
	actx := deliveryActivityCtx(ctx, p.Options)
	var a *activities.Activities
	letterIDs := make([]string, len(p.Letters))
	for i, l := range p.Letters {
		letterIDs[i] = l.ID
	}

	if !p.Seeded {
		sctx := workflow.WithActivityOptions(actx, workflow.ActivityOptions{
			TaskQueue:           DeliveryTaskQueue(workflow.GetInfo(ctx).TaskQueueName),
			StartToCloseTimeout: 30 * time.Minute,
			HeartbeatTimeout:    2 * time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
		})
		err := workflow.ExecuteActivity(sctx, a.SeedLedger, activities.SeedInput{
			OpKey:      fmt.Sprintf("%s/seed", workflow.GetInfo(ctx).WorkflowExecution.ID),
			IncidentID: p.IncidentID,
			SendID:     p.SendID,
			Partition:  p.Partition,
			Letters:    p.Letters,
			From:       p.From,
			To:         p.To,
			Round:      p.Round,
		}).Get(ctx, nil)
		if err != nil {
			return result(false), err
		}
		p.Seeded = true
	}
	if p.Cursor == 0 {
		p.Cursor = p.From
	}

	batches := 0
	for {
		drain()
		switch state {
		case breach.SendCancelled:
			return result(true), nil
		case breach.SendPaused:
			var s breach.SendState
			sig.Receive(ctx, &s)
			apply(s)
			continue
		}
		if batches >= p.Options.BatchesPerRun {
			next := p
			next.Paused = false
			return PartitionResult{}, workflow.NewContinueAsNewError(ctx, DeliveryPartitionWorkflowName, next)
		}
		var res activities.SendBatchResult
		err := workflow.ExecuteActivity(actx, a.SendBatch, activities.SendBatchInput{
			IncidentID:  p.IncidentID,
			SendID:      p.SendID,
			Partition:   p.Partition,
			Letters:     letterIDs,
			Policy:      p.Policy,
			From:        p.From,
			To:          p.To,
			Cursor:      p.Cursor,
			Limit:       p.Options.BatchSize,
			Sweep:       p.SweepNext,
			Lease:       p.Options.Lease,
			Chunk:       p.Options.Chunk,
			RetryBase:   p.Options.RetryBase,
			MaxAttempts: p.Options.MaxAttempts,
			Round:       p.Round,
		}).Get(ctx, &res)
		if err != nil {
			// Only a non-retryable failure gets here (the letter no longer
			// renders as approved, a malformed input): nothing more can be
			// sent by this partition.
			return result(false), err
		}
		batches++
		p.Batches++
		p.SweepNext = false
		p.Totals.Add(res)
		if res.Stopped != "" {
			if res.Next > p.Cursor {
				p.Cursor = res.Next
			}
			if res.Stopped == breach.SendCancelled {
				state = breach.SendCancelled // final: no resume can follow
				continue
			}
			// The send is paused in Postgres; the signal saying so is on its
			// way (or a resume already followed). Wait for it, or check again.
			waitSignal(ctx, sig, apply, stoppedWait)
			continue
		}
		p.Cursor = res.Next
		if p.Cursor <= p.To {
			continue
		}
		// End of a pass over the range.
		if res.Open == 0 {
			return result(false), nil
		}
		wait := minPassWait
		if res.WakeAt != nil {
			wait = min(max(res.WakeAt.Sub(workflow.Now(ctx)), minPassWait), maxPassWait)
		}
		waitSignal(ctx, sig, apply, wait)
		p.Pass++
		p.Cursor = p.From
		p.SweepNext = true
	}
}

// waitSignal waits for d or a send state signal, whichever comes first.
func waitSignal(ctx workflow.Context, sig workflow.ReceiveChannel, apply func(breach.SendState), d time.Duration) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	sel.AddReceive(sig, func(c workflow.ReceiveChannel, _ bool) {
		var s breach.SendState
		c.Receive(ctx, &s)
		apply(s)
	})
	sel.Select(ctx)
}
