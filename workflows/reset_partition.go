package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// ResetPartitionWorkflow resets the accounts of the people with IDs
// From..To in one round of the credential track: it makes their reset rows
// (CreateResetRows, once per chunk of IDs whatever the round), then runs
// ResetBatch activities one after the other, each from the cursor the
// previous one returned, until a pass over the range ends with nothing open.
// Accounts put back to pending by a temporary refusal, or held by a dead
// batch until its lease ends, are taken by later passes, each starting with
// a sweep of expired leases. It continues as new every
// Options.BatchesPerRun batches so that its history stays small (a 4.8
// million account reset over 8 partitions is 600 batches each: 3 runs of
// about 1,300 events). It ends when its range is done, when the track is
// paused (SignalResetStop, or a batch finding it paused in Postgres), or
// on a connector misconfiguration, which it returns for the parent to show.
func ResetPartitionWorkflow(ctx workflow.Context, p ResetPartitionParams) (ResetPartitionResult, error) {
	if blank(p.IncidentID) || p.Round < 1 || p.From < 1 || p.From > p.To {
		return ResetPartitionResult{}, invalidParams("partition", "incident, round and a range are required")
	}
	p.Options = p.Options.withDefaults()
	p.Runs++
	stopCh := workflow.GetSignalChannel(ctx, SignalResetStop)
	stopped := false
	drain := func() {
		for stopCh.ReceiveAsync(nil) {
			stopped = true
		}
	}
	result := func() ResetPartitionResult {
		return ResetPartitionResult{Partition: p.Partition, Passes: p.Pass + 1, Batches: p.Batches, Runs: p.Runs, Totals: p.Totals}
	}
	var a *activities.Activities
	if !p.Created {
		cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Minute,
			HeartbeatTimeout:    2 * time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
		})
		// The key names the range, not the round: a later round finds its
		// chunks applied and makes nothing again.
		err := workflow.ExecuteActivity(cctx, a.CreateResetRows, activities.CreateResetRowsInput{
			OpKey:      fmt.Sprintf("%s/create/%d", breach.CredentialsWorkflowID(p.IncidentID), p.Partition),
			IncidentID: p.IncidentID, Partition: p.Partition, From: p.From, To: p.To,
		}).Get(ctx, nil)
		if err != nil {
			return result(), err
		}
		p.Created = true
	}
	if p.Cursor == 0 {
		p.Cursor = p.From
	}
	actx := resetActivityCtx(ctx, p.Options)
	batches := 0
	for {
		drain()
		if stopped {
			res := result()
			res.Stopped = breach.TrackPaused
			return res, nil
		}
		if batches >= p.Options.BatchesPerRun {
			return ResetPartitionResult{}, workflow.NewContinueAsNewError(ctx, ResetPartitionWorkflowName, p)
		}
		var res activities.ResetBatchResult
		err := workflow.ExecuteActivity(actx, a.ResetBatch, activities.ResetBatchInput{
			IncidentID: p.IncidentID, Round: p.Round, Partition: p.Partition, From: p.From, To: p.To,
			Cursor: p.Cursor, Limit: p.Options.BatchSize, Sweep: p.SweepNext, Rate: p.Rate,
			Lease: p.Options.Lease, Chunk: p.Options.Chunk, RetryBase: p.Options.RetryBase, MaxAttempts: p.Options.MaxAttempts,
		}).Get(ctx, &res)
		if msg, ok := configError(err); ok {
			out := result()
			out.ConfigError = msg
			return out, nil
		}
		if err != nil {
			// Only a non-retryable failure gets here (a malformed input, an
			// incident not found): this partition can do nothing more.
			return result(), err
		}
		batches++
		p.Batches++
		p.SweepNext = false
		p.Totals.Add(res)
		if res.Stopped != "" {
			out := result()
			out.Stopped = res.Stopped
			return out, nil
		}
		p.Cursor = res.Next
		if p.Cursor <= p.To {
			continue
		}
		// End of a pass over the range.
		if res.Open == 0 {
			return result(), nil
		}
		wait := minPassWait
		if res.WakeAt != nil {
			wait = min(max(res.WakeAt.Sub(workflow.Now(ctx)), minPassWait), maxPassWait)
		}
		waitStop(ctx, stopCh, wait)
		p.Pass++
		p.Cursor = p.From
		p.SweepNext = true
	}
}

// waitStop waits for d or a stop signal, whichever comes first; the signal
// stays in the channel for the loop to drain.
func waitStop(ctx workflow.Context, stopCh workflow.ReceiveChannel, d time.Duration) {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	sel.AddReceive(stopCh, func(workflow.ReceiveChannel, bool) {}) // not received: drain takes it
	sel.Select(ctx)
}
