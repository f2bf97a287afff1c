package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/store"
)

// The credential track (DESIGN.md track 4): every affected account's
// password reset forced and its sessions ended at the identity provider,
// through the incident's connector (internal/idp), in batches that claim
// account_resets rows under a lease like the delivery ledger's, then the
// completions polled. Hashed passwords leaked: the forced reset is the
// measure that makes them useless (GDPR Art. 33(3)(d), Art. 34(2)).
//
// Account IDs are personal data: they are opened from people.account_id in
// memory, handed to the connector, and never logged, returned or put in an
// error (the connectors' reasons never quote them either).

// ErrorTypeIdPTemporary is the type of the retryable application error by
// which a batch reports a provider that is unreachable or rate-limits for
// now (idp.TemporaryError): Temporal retries it, after the provider's
// Retry-After when it gave one.
const ErrorTypeIdPTemporary = "breach.idp_temporary"

// connector opens the incident's connector: cfg, or the stored one.
func (a *Activities) connector(ctx context.Context, incidentID string, cfg *idp.Config) (idp.Connector, error) {
	if cfg == nil {
		tr, err := a.Store.CredentialTrack(ctx, incidentID)
		if err != nil {
			return nil, err
		}
		c, err := idp.ParseConfig(tr.Config)
		if err != nil {
			return nil, &idp.ConfigError{Message: "the stored configuration is invalid", Err: err}
		}
		cfg = &c
	}
	opts := a.IdP
	if opts.Logger == nil {
		opts.Logger = a.logger()
	}
	return idp.Open(ctx, *cfg, opts)
}

// idpFailure turns a connector's error into the activity's: a
// misconfiguration is non-retryable (type idp.ConfigErrorType: the workflow
// pauses the track), temporary trouble retryable after the provider's hint.
func (a *Activities) idpFailure(ctx context.Context, name, incidentID string, err error) error {
	var ce *idp.ConfigError
	if errors.As(err, &ce) {
		a.logger().WarnContext(ctx, "identity provider misconfigured", "activity", name, "incident_id", incidentID, "error", ce.Error())
		return temporal.NewNonRetryableApplicationError(ce.Error(), idp.ConfigErrorType, err)
	}
	if ra, ok := idp.RetryAfter(err); ok {
		a.logger().InfoContext(ctx, "identity provider unavailable for now", "activity", name, "incident_id", incidentID, "retry_after", ra, "error", err.Error())
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: %v", name, err), ErrorTypeIdPTemporary,
			temporal.ApplicationErrorOptions{NextRetryDelay: ra, Cause: err})
	}
	return a.fail(ctx, name, incidentID, err)
}

// CheckConnector verifies a configuration against the live provider without
// changing anything, so that a misconfiguration shows when the DPO starts or
// resumes the reset rather than mid-track. A provider that cannot be reached
// now is a conflict: nothing starts, the DPO tries again.
func (a *Activities) CheckConnector(ctx context.Context, in CheckConnectorInput) error {
	c, err := a.connector(ctx, in.IncidentID, in.Config)
	if err == nil {
		defer c.Close()
		err = c.Check(ctx)
	}
	if err == nil {
		return nil
	}
	if _, ok := idp.RetryAfter(err); ok {
		be := breach.Errorf(breach.ErrConflict, "the identity provider cannot be reached now: %v", err)
		return temporal.NewNonRetryableApplicationError("check connector: "+be.Error(), ErrorType(be.Code), err, be)
	}
	return a.idpFailure(ctx, "check connector", in.IncidentID, err)
}

// StartReset records the start of the reset with its configuration and
// audit row, and returns the range of people with an account.
func (a *Activities) StartReset(ctx context.Context, in StartResetInput) (ResetRef, error) {
	var ref ResetRef
	err := a.do(ctx, "start reset", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		cfg, err := json.Marshal(in.Config)
		if err != nil {
			return nil, fmt.Errorf("encode the configuration: %w", err)
		}
		tr, rng, err := tx.StartCredentialTrack(ctx, in.Actor, store.StartTrackInput{IncidentID: in.IncidentID, Config: cfg, Options: in.Options})
		if err != nil {
			return nil, err
		}
		return ResetRef{StartedAt: tr.StartedAt, Round: tr.Round, Accounts: rng.Accounts, MinPerson: rng.MinPerson, MaxPerson: rng.MaxPerson}, nil
	})
	return ref, err
}

// SetResetState pauses, resumes (with perhaps a new configuration), marks
// done or ends the track, audited.
func (a *Activities) SetResetState(ctx context.Context, in ResetStateInput) (ResetRef, error) {
	var ref ResetRef
	err := a.do(ctx, "set reset state", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		ch := store.TrackChange{IncidentID: in.IncidentID, State: in.State, Reason: in.Reason}
		if in.Config != nil {
			b, err := json.Marshal(in.Config)
			if err != nil {
				return nil, fmt.Errorf("encode the configuration: %w", err)
			}
			ch.Config = b
		}
		tr, err := tx.SetTrackState(ctx, in.Actor, ch)
		if err != nil {
			return nil, err
		}
		return ResetRef{StartedAt: tr.StartedAt, Round: tr.Round, Accounts: tr.Accounts}, nil
	})
	return ref, err
}

// resetSeedChunk is the number of person IDs one row-making transaction
// covers: each opens the sealed account IDs of its chunk.
const resetSeedChunk = 20_000

// CreateResetRows makes the pending reset rows of a partition's range, one
// transaction per chunk of IDs, each chunk once (its operation key).
func (a *Activities) CreateResetRows(ctx context.Context, in CreateResetRowsInput) (int64, error) {
	var total int64
	for from := in.From; from <= in.To; from += resetSeedChunk {
		to := min(from+resetSeedChunk-1, in.To)
		var n int64
		key := fmt.Sprintf("%s/%d-%d", in.OpKey, from, to)
		err := a.do(ctx, "create reset rows", key, "", in.IncidentID, &n, func(ctx context.Context, tx *store.Tx) (any, error) {
			return tx.CreateResetRows(ctx, a.Vault, in.IncidentID, from, to, in.Partition)
		})
		if err != nil {
			return total, err
		}
		total += n
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, to)
		}
	}
	return total, nil
}

// ResetKey is the idempotency key of one action on one person's account: the
// same for every attempt, so that the provider applies it once. It names the
// incident and the person ID, never the account.
func ResetKey(incidentID string, personID int64, action string) string {
	return fmt.Sprintf("%s/%d/%s", incidentID, personID, action)
}

// Actions named in the keys.
const (
	keyForceReset     = "force_reset"
	keyRevokeSessions = "revoke_sessions"
)

// ResetBatch resets one batch of a partition. Chunk by chunk, it checks that
// the track still runs, waits its turn under the rate, claims rows (FOR
// UPDATE SKIP LOCKED, under a lease), opens their account IDs in memory,
// forces the reset, revokes the sessions of the accounts reset, and records
// the outcomes at once. A misconfigured connector pauses the track (the
// error stored for the incident page) and fails the activity non-retryably;
// an unreachable provider fails it retryably, after giving back the rows it
// did not finish.
func (a *Activities) ResetBatch(ctx context.Context, in ResetBatchInput) (ResetBatchResult, error) {
	res, err := a.resetBatch(ctx, in)
	if err == nil {
		return res, nil
	}
	if idp.IsConfigError(err) {
		a.pauseOnConfigError(ctx, in, err)
		return res, a.idpFailure(ctx, "reset batch", in.IncidentID, err)
	}
	if _, ok := idp.RetryAfter(err); ok {
		return res, a.idpFailure(ctx, "reset batch", in.IncidentID, err)
	}
	return res, a.fail(ctx, "reset batch", in.IncidentID, err)
}

// pauseOnConfigError pauses the track with the connector's error, so that
// the incident shows it, instead of failing silently or retrying forever.
func (a *Activities) pauseOnConfigError(ctx context.Context, in ResetBatchInput, err error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	perr := a.Store.InTx(pctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.SetTrackState(ctx, breach.System, store.TrackChange{IncidentID: in.IncidentID, State: breach.TrackPaused,
			Reason: "the identity provider connector is misconfigured", Error: err.Error()})
		return err
	})
	if perr != nil {
		a.logger().ErrorContext(ctx, "pausing the credential track failed", "incident_id", in.IncidentID, "error", perr)
	}
}

func (a *Activities) resetBatch(ctx context.Context, in ResetBatchInput) (ResetBatchResult, error) {
	res := ResetBatchResult{Next: in.Cursor}
	if err := checkResetBatch(&in); err != nil {
		return res, err
	}
	scope := store.ResetScope{IncidentID: in.IncidentID, From: in.From, To: in.To, Shard: in.Partition}
	cursor, done := max(in.Cursor, in.From), 0
	attempt := int32(1)
	if activity.IsActivity(ctx) {
		attempt = activity.GetInfo(ctx).Attempt
		var p batchProgress
		if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &p) == nil && p.Cursor > cursor {
			cursor, done = p.Cursor, p.Done
		}
	}
	if a.Vault == nil {
		return res, errors.New("no data key configured (BREACH_DATA_KEY): account IDs cannot be opened")
	}
	if in.Sweep {
		n, err := a.Store.SweepExpiredResets(ctx, scope)
		if err != nil {
			return res, err
		}
		res.Swept = int(n)
	}
	conn, err := a.connector(ctx, in.IncidentID, nil)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	b := &resetBatch{a: a, in: in, scope: scope, res: &res, conn: conn, token: store.NewClaimToken(),
		worker: fmt.Sprintf("%s#%d", a.identity(), attempt), cursor: cursor, done: done}
	if in.Rate > 0 {
		b.limiter = rate.NewLimiter(rate.Limit(in.Rate), in.Chunk)
	}
	stopped, err := b.run(ctx, in.Limit-done)
	res.Next = b.cursor
	if ferr := b.finish(ctx, err); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return res, err
	}
	if stopped != "" {
		res.Stopped = stopped
		return res, nil
	}
	if res.Next > in.To {
		st, err := a.Store.ResetRangeStatus(ctx, scope)
		if err != nil {
			return res, err
		}
		res.Open = st.Open
		if !st.WakeAt.IsZero() {
			w := st.WakeAt
			res.WakeAt = &w
		}
	}
	return res, nil
}

func checkResetBatch(in *ResetBatchInput) error {
	switch {
	case in.From < 1 || in.From > in.To:
		return breach.Invalid("range", "from must be >= 1 and <= to")
	case in.Limit < 1:
		return breach.Invalid("limit", "must be positive")
	case in.Rate < 0:
		return breach.Invalid("rate", "must not be negative")
	}
	if in.Lease <= 0 {
		in.Lease = DefaultLease
	}
	if in.Chunk <= 0 {
		in.Chunk = DefaultResetChunk
	}
	if in.RetryBase <= 0 {
		in.RetryBase = DefaultRetryBase
	}
	if in.MaxAttempts <= 0 {
		in.MaxAttempts = DefaultResetMaxAttempts
	}
	return nil
}

// resetBatch is one run of ResetBatch.
type resetBatch struct {
	a       *Activities
	in      ResetBatchInput
	scope   store.ResetScope
	res     *ResetBatchResult
	conn    idp.Connector
	limiter *rate.Limiter
	token   int64
	worker  string
	cursor  int64
	done    int
	until   time.Time // the current claim's lease
}

// run resets up to limit accounts from the cursor on. It returns the track's
// state when it stopped because the track no longer runs.
func (b *resetBatch) run(ctx context.Context, limit int) (breach.TrackState, error) {
	for limit > 0 {
		state, err := b.a.Store.TrackState(ctx, b.in.IncidentID)
		if err != nil {
			return "", err
		}
		if state != breach.TrackRunning {
			return state, nil
		}
		n := min(b.in.Chunk, limit)
		if err := b.pace(ctx, n); err != nil {
			return "", err
		}
		claim, err := b.a.Store.ClaimResets(ctx, store.ResetClaimSpec{ResetScope: b.scope, After: b.cursor, Limit: n,
			Lease: b.in.Lease, Worker: b.worker, Token: b.token})
		if err != nil {
			return "", err
		}
		if len(claim.Rows) == 0 {
			b.cursor = b.in.To + 1
			return "", nil
		}
		b.until = claim.Until
		b.res.Claimed += len(claim.Rows)
		if err := b.chunk(ctx, claim.Rows); err != nil {
			return "", err
		}
		b.cursor = claim.Rows[len(claim.Rows)-1].PersonID + 1
		limit -= len(claim.Rows)
		b.done += len(claim.Rows)
		b.heartbeat(ctx)
	}
	return "", nil
}

// pace waits until n more accounts may be handled under the rate,
// heartbeating while it waits.
func (b *resetBatch) pace(ctx context.Context, n int) error {
	if b.limiter == nil {
		return nil
	}
	r := b.limiter.ReserveN(time.Now(), n)
	if !r.OK() {
		return fmt.Errorf("rate: cannot take %d accounts at once", n)
	}
	for wait := r.Delay(); wait > 0; wait = r.Delay() {
		t := time.NewTimer(min(wait, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			r.Cancel()
			return ctx.Err()
		case <-t.C:
		}
		b.heartbeat(ctx)
	}
	return nil
}

func (b *resetBatch) heartbeat(ctx context.Context) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, batchProgress{Cursor: b.cursor, Done: b.done})
	}
}

// chunk resets the claimed rows: ForceReset, then RevokeSessions for the
// accounts reset, and records every outcome. With an error from the
// provider, the outcomes known stand and the other rows are given back.
func (b *resetBatch) chunk(ctx context.Context, rows []store.ResetRow) error {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.PersonID
	}
	opened, err := b.a.Store.ResetAccounts(ctx, b.a.Vault, b.in.IncidentID, ids)
	if err != nil {
		return b.stopWith(ctx, rows, nil, err)
	}
	outs := make(map[int64]store.ResetOutcome, len(rows))
	var accounts []idp.Account
	var tried []store.ResetRow
	for _, r := range rows {
		id, ok := opened[r.PersonID]
		if !ok || id == "" {
			outs[r.PersonID] = store.ResetOutcome{PersonID: r.PersonID, State: breach.ResetFailed, Reason: "no account ID (purged or missing)"}
			continue
		}
		accounts = append(accounts, idp.Account{ID: id, Key: ResetKey(b.in.IncidentID, r.PersonID, keyForceReset)})
		tried = append(tried, r)
	}
	if len(accounts) > 0 {
		resets, err := b.conn.ForceReset(ctx, accounts)
		if len(resets) != len(accounts) && err == nil {
			err = fmt.Errorf("the connector answered %d results for %d accounts", len(resets), len(accounts))
		}
		if err != nil {
			// Done and Failed stand; a reset done is tried again whole (its
			// key makes the provider apply it once) so that its sessions are
			// revoked too.
			for i, o := range resets {
				if i < len(tried) && o.Result == idp.Failed {
					outs[tried[i].PersonID] = b.outcome(tried[i], o, "")
				}
			}
			return b.stopWith(ctx, rows, outs, err)
		}
		var revoke []idp.Account
		var revRows []store.ResetRow
		for i, o := range resets {
			if o.Result == idp.Done {
				revoke = append(revoke, idp.Account{ID: accounts[i].ID, Key: ResetKey(b.in.IncidentID, tried[i].PersonID, keyRevokeSessions)})
				revRows = append(revRows, tried[i])
				continue
			}
			outs[tried[i].PersonID] = b.outcome(tried[i], o, "")
		}
		if len(revoke) > 0 {
			if err := b.keepLease(ctx, revRows); err != nil {
				return b.stopWith(ctx, rows, outs, err)
			}
			revs, err := b.conn.RevokeSessions(ctx, revoke)
			if len(revs) != len(revoke) && err == nil {
				err = fmt.Errorf("the connector answered %d results for %d accounts", len(revs), len(revoke))
			}
			for i, o := range revs {
				if i >= len(revRows) || (err != nil && o.Result == idp.Retry) {
					continue
				}
				outs[revRows[i].PersonID] = b.outcome(revRows[i], o, "sessions: ")
			}
			if err != nil {
				return b.stopWith(ctx, rows, outs, err)
			}
		}
	}
	return b.record(ctx, rows, outs)
}

// outcome is the row's outcome for the provider's result.
func (b *resetBatch) outcome(r store.ResetRow, o idp.Outcome, prefix string) store.ResetOutcome {
	out := store.ResetOutcome{PersonID: r.PersonID}
	switch o.Result {
	case idp.Done:
		out.State, out.Reason = breach.ResetDone, o.Reason
		b.res.Done++
	case idp.Failed:
		out.State, out.Reason = breach.ResetFailed, prefix+o.Reason
		b.res.Failed++
	default:
		if r.Attempt >= b.in.MaxAttempts {
			out.State, out.Reason = breach.ResetFailed, fmt.Sprintf("temporary refusals %d times, the last: %s%s", r.Attempt, prefix, o.Reason)
			b.res.Failed++
			break
		}
		out.State, out.Reason = breach.ResetPending, prefix+o.Reason
		out.RetryAfter = max(o.RetryAfter, retryDelay(b.in.RetryBase, r.Attempt))
		b.res.Deferred++
	}
	return out
}

// keepLease renews the claim's lease when less than a third of it is left
// (a slow provider: Keycloak handles accounts one by one).
func (b *resetBatch) keepLease(ctx context.Context, rows []store.ResetRow) error {
	if time.Until(b.until) > b.in.Lease/3 || len(rows) == 0 {
		return nil
	}
	until, err := b.a.Store.RenewResetLease(ctx, b.in.IncidentID, b.token, rows[0].PersonID, rows[len(rows)-1].PersonID, b.in.Lease)
	if err != nil {
		return err
	}
	b.until = until
	b.heartbeat(ctx)
	return nil
}

// record writes the outcomes of the chunk's rows; rows without one are
// given back (claimed, not finished).
func (b *resetBatch) record(ctx context.Context, rows []store.ResetRow, outs map[int64]store.ResetOutcome) error {
	list := make([]store.ResetOutcome, 0, len(rows))
	for _, r := range rows {
		o, ok := outs[r.PersonID]
		if !ok {
			o = store.ResetOutcome{PersonID: r.PersonID, Release: true}
			b.res.Released++
		}
		list = append(list, o)
	}
	_, err := b.a.Store.RecordResetOutcomes(ctx, b.in.IncidentID, b.token, b.in.Partition, list, nil)
	return err
}

// stopWith records what is known (on a context of its own: ctx may be the
// reason to stop), gives back the rest, and returns err.
func (b *resetBatch) stopWith(ctx context.Context, rows []store.ResetRow, outs map[int64]store.ResetOutcome, err error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := b.record(rctx, rows, outs); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// finish appends the batch's audit row: the external effects it had, as
// counts (one row per batch, not per account).
func (b *resetBatch) finish(ctx context.Context, cause error) error {
	if b.res.Claimed+b.res.Swept == 0 {
		return nil
	}
	after := map[string]any{
		"round": b.in.Round, "partition": b.in.Partition, "from": b.in.Cursor, "next": b.cursor,
		"claimed": b.res.Claimed, "done": b.res.Done, "failed": b.res.Failed, "deferred": b.res.Deferred,
		"released": b.res.Released, "swept": b.res.Swept, "worker": b.worker,
	}
	if cause != nil {
		after["stopped_by"] = cause.Error()
	}
	audit := &store.AuditEntry{Actor: breach.System, Action: "credentials.batch", IncidentID: b.in.IncidentID, After: after}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		audit.WorkflowID, audit.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := b.a.Store.RecordResetOutcomes(fctx, b.in.IncidentID, b.token, b.in.Partition, nil, audit)
	return err
}

// pollShard is the counters' row of the completions found by status polls.
const pollShard = -2

// PollStatus asks the provider, in chunks, about every account whose reset
// is done but not reported complete, and records the completions it finds
// (at the time of the poll; the first report is kept), then audits the poll
// (counts only). A connector that cannot answer status queries (a
// misconfiguration, or none configured) is recorded on the track and the
// poll ends without failing: completions then come by webhook. It resumes
// from its heartbeat when retried.
func (a *Activities) PollStatus(ctx context.Context, in PollStatusInput) (PollStatusResult, error) {
	var res PollStatusResult
	if in.Chunk <= 0 {
		in.Chunk = DefaultResetChunk
	}
	if a.Vault == nil {
		return res, a.fail(ctx, "poll status", in.IncidentID, errors.New("no data key configured (BREACH_DATA_KEY)"))
	}
	var p batchProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	cursor := p.Cursor
	res.Checked = p.Done
	conn, err := a.connector(ctx, in.IncidentID, nil)
	if err != nil {
		return a.pollEnd(ctx, in, res, err)
	}
	defer conn.Close()
	var limiter *rate.Limiter
	if in.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(in.Rate), in.Chunk)
	}
	for {
		ids, err := a.Store.PollCandidates(ctx, in.IncidentID, cursor, in.Chunk)
		if err != nil {
			return res, a.fail(ctx, "poll status", in.IncidentID, err)
		}
		if len(ids) == 0 {
			break
		}
		if limiter != nil {
			if err := limiter.WaitN(ctx, len(ids)); err != nil {
				return res, a.fail(ctx, "poll status", in.IncidentID, err)
			}
		}
		opened, err := a.Store.ResetAccounts(ctx, a.Vault, in.IncidentID, ids)
		if err != nil {
			return res, a.fail(ctx, "poll status", in.IncidentID, err)
		}
		var accounts []idp.Account
		var people []int64
		for _, id := range ids {
			if acct, ok := opened[id]; ok && acct != "" {
				accounts = append(accounts, idp.Account{ID: acct, Key: ResetKey(in.IncidentID, id, keyForceReset)})
				people = append(people, id)
			}
		}
		if len(accounts) > 0 {
			sts, err := conn.Status(ctx, accounts)
			var complete []int64
			for i, s := range sts {
				if i < len(people) && s.State == idp.Complete {
					complete = append(complete, people[i])
				}
			}
			n, rerr := a.Store.RecordStatusCompletions(ctx, in.IncidentID, pollShard, complete)
			if rerr != nil {
				return res, a.fail(ctx, "poll status", in.IncidentID, rerr)
			}
			res.Completed += int(n)
			if err != nil {
				return a.pollEnd(ctx, in, res, err)
			}
			res.Checked += len(accounts)
		}
		cursor = ids[len(ids)-1]
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, batchProgress{Cursor: cursor, Done: res.Checked})
		}
	}
	return a.pollEnd(ctx, in, res, nil)
}

// pollEnd records the poll on the track and in the audit log, or returns
// the retryable failure of a provider unreachable for now.
func (a *Activities) pollEnd(ctx context.Context, in PollStatusInput, res PollStatusResult, err error) (PollStatusResult, error) {
	if err != nil && !idp.IsConfigError(err) {
		return res, a.idpFailure(ctx, "poll status", in.IncidentID, err)
	}
	if err != nil {
		res.Error = err.Error()
	}
	if rerr := a.Store.RecordPoll(ctx, in.IncidentID, res.Error); rerr != nil {
		return res, a.fail(ctx, "poll status", in.IncidentID, rerr)
	}
	after := map[string]any{"poll": in.Poll, "checked": res.Checked, "completed": res.Completed}
	if res.Error != "" {
		after["error"] = res.Error
	}
	audit := store.AuditEntry{Actor: breach.System, Action: "credentials.polled", IncidentID: in.IncidentID, After: after}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		audit.WorkflowID, audit.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	}
	if aerr := a.Store.AuditPoll(ctx, audit); aerr != nil {
		return res, a.fail(ctx, "poll status", in.IncidentID, aerr)
	}
	return res, nil
}
