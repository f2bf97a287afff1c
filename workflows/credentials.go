package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
)

// ResetOptions tune the credential track; zero values take the defaults
// (DefaultResetOptions).
type ResetOptions struct {
	// Partitions is the number of ResetPartition children, each resetting
	// its range of people one batch after the other.
	Partitions int `json:"partitions,omitempty"`
	// BatchSize is the number of accounts per ResetBatch activity.
	BatchSize int `json:"batch_size,omitempty"`
	// BatchesPerRun is the number of batches a partition runs before it
	// continues as new (keeps each history small).
	BatchesPerRun int `json:"batches_per_run,omitempty"`
	// Chunk is the number of accounts sent to the provider at once (one
	// webhook POST, one SQL transaction).
	Chunk int `json:"chunk,omitempty"`
	// Rate is the most accounts per second the incident's reset handles at
	// the provider, over all its partitions.
	Rate float64 `json:"rate,omitempty"`
	// Lease is how long a claimed account may stay running before another
	// batch may take it; HeartbeatTimeout detects a dead batch, well under it.
	Lease            time.Duration `json:"lease,omitempty"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
	// RetryBase is the wait after a first temporary refusal of an account,
	// doubled at each attempt (or the provider's Retry-After when longer);
	// MaxAttempts ends in failed.
	RetryBase   time.Duration `json:"retry_base,omitempty"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
	// PollInterval is the time between two status polls of the accounts
	// reset but not completed; PollFor is how long after the start of the
	// reset polling goes on (the follow-up period).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	PollFor      time.Duration `json:"poll_for,omitempty"`
}

// DefaultResetOptions: 8 partitions of batches of 1000 accounts in chunks of
// 250, at most 500 accounts per second (4.8 million accounts in under 3
// hours), continuing as new every 200 batches (about 1,300 events per
// history); completions polled every 6 hours for 90 days.
var DefaultResetOptions = ResetOptions{
	Partitions:       8,
	BatchSize:        1000,
	BatchesPerRun:    200,
	Chunk:            activities.DefaultResetChunk,
	Rate:             500,
	Lease:            time.Minute,
	HeartbeatTimeout: 20 * time.Second,
	RetryBase:        activities.DefaultRetryBase,
	MaxAttempts:      activities.DefaultResetMaxAttempts,
	PollInterval:     6 * time.Hour,
	PollFor:          90 * 24 * time.Hour,
}

func (o ResetOptions) withDefaults() ResetOptions {
	d := DefaultResetOptions
	if o.Partitions == 0 {
		o.Partitions = d.Partitions
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.BatchesPerRun == 0 {
		o.BatchesPerRun = d.BatchesPerRun
	}
	if o.Chunk == 0 {
		o.Chunk = min(d.Chunk, o.BatchSize)
	}
	if o.Rate == 0 {
		o.Rate = d.Rate
	}
	if o.Lease == 0 {
		o.Lease = d.Lease
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = min(d.HeartbeatTimeout, o.Lease/3)
	}
	if o.RetryBase == 0 {
		o.RetryBase = d.RetryBase
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.PollInterval == 0 {
		o.PollInterval = d.PollInterval
	}
	if o.PollFor == 0 {
		o.PollFor = d.PollFor
	}
	return o
}

func (o ResetOptions) validate() error {
	switch {
	case o.Partitions < 1 || o.Partitions > 64:
		return reject(breach.ErrInvalid, "options.partitions", "must be 1 to 64")
	case o.BatchSize < 1 || o.BatchSize > 10_000:
		return reject(breach.ErrInvalid, "options.batch_size", "must be 1 to 10000")
	case o.BatchesPerRun < 1 || o.BatchesPerRun > 1000:
		return reject(breach.ErrInvalid, "options.batches_per_run", "must be 1 to 1000 (a history stays under 10,000 events)")
	case o.Chunk < 1 || o.Chunk > 1000 || o.Chunk > o.BatchSize:
		return reject(breach.ErrInvalid, "options.chunk", "must be 1 to 1000, and at most batch_size")
	case o.Rate < 0.1 || o.Rate > 100_000:
		return reject(breach.ErrInvalid, "options.rate", "must be 0.1 to 100000 accounts per second")
	case o.Lease < 2*time.Second:
		return reject(breach.ErrInvalid, "options.lease", "must be at least 2s")
	case o.HeartbeatTimeout < time.Second || o.HeartbeatTimeout*2 > o.Lease:
		return reject(breach.ErrInvalid, "options.heartbeat_timeout", "must be at least 1s and at most half the lease")
	case o.RetryBase < 100*time.Millisecond:
		return reject(breach.ErrInvalid, "options.retry_base", "must be at least 100ms")
	case o.MaxAttempts < 1 || o.MaxAttempts > 50:
		return reject(breach.ErrInvalid, "options.max_attempts", "must be 1 to 50")
	case o.PollInterval < time.Minute:
		return reject(breach.ErrInvalid, "options.poll_interval", "must be at least 1m")
	case o.PollFor < o.PollInterval || o.PollFor > 3*365*24*time.Hour:
		return reject(breach.ErrInvalid, "options.poll_for", "must be at least the poll interval and at most 3 years")
	}
	return nil
}

// CredentialsParams start a Credentials workflow. State is carried over
// continue-as-new.
type CredentialsParams struct {
	IncidentID string            `json:"incident_id"`
	State      *CredentialsState `json:"state,omitempty"`
}

// CredentialsState is what a Credentials workflow keeps: states, times,
// ranges and counts, never an account ID.
type CredentialsState struct {
	Phase breach.TrackState `json:"phase"`
	// StartedAt is when the DPO started the reset: the monitoring track
	// counts its reminders (7 and 21 days) from it.
	StartedAt *time.Time       `json:"started_at,omitempty"`
	StartedBy string           `json:"started_by,omitempty"`
	Accounts  int64            `json:"accounts"`
	Options   ResetOptions     `json:"options"`
	Round     int              `json:"round"`
	Ranges    []PartitionRange `json:"ranges,omitempty"`
	// Error is the connector's misconfiguration that paused the track.
	Error       string     `json:"error,omitempty"`
	ResetDoneAt *time.Time `json:"reset_done_at,omitempty"`
	// Totals sum what the partitions that ended did, in how many batches
	// and runs.
	Totals  activities.ResetBatchResult `json:"totals"`
	Batches int                         `json:"batches"`
	Runs    int                         `json:"runs"`
	// The status polls after the reset.
	Polls      int        `json:"polls"`
	LastPollAt *time.Time `json:"last_poll_at,omitempty"`
	NextPollAt *time.Time `json:"next_poll_at,omitempty"`
	PollEndsAt *time.Time `json:"poll_ends_at,omitempty"`
	PollError  string     `json:"poll_error,omitempty"`
	Completed  int64      `json:"completed"` // found by the polls
}

// CredentialsView answers QueryState on a Credentials workflow.
type CredentialsView struct {
	IncidentID string `json:"incident_id"`
	Closed     bool   `json:"closed"`
	CredentialsState
	// Running is the partitions of the current round still running.
	Running int `json:"running"`
}

// StartResetUpdate starts the reset of every affected account. Config is the
// connector (idp.Config: secrets referenced, never held).
type StartResetUpdate struct {
	Actor   breach.Actor `json:"actor"`
	Config  *idp.Config  `json:"config"`
	Options ResetOptions `json:"options,omitempty"`
}

// ResumeResetUpdate resumes a paused reset, with a corrected Config or the
// stored one.
type ResumeResetUpdate struct {
	Actor  breach.Actor `json:"actor"`
	Config *idp.Config  `json:"config,omitempty"`
}

// PauseResetUpdate pauses the reset; Reason is required.
type PauseResetUpdate struct {
	Actor  breach.Actor `json:"actor"`
	Reason string       `json:"reason"`
}

// ResetPartitionParams start a ResetPartition workflow; the fields after
// Options are its progress, carried over continue-as-new.
type ResetPartitionParams struct {
	IncidentID string       `json:"incident_id"`
	Round      int          `json:"round"`
	Partition  int          `json:"partition"`
	From       int64        `json:"from"`
	To         int64        `json:"to"`
	Rate       float64      `json:"rate"` // this partition's share of the incident's rate
	Options    ResetOptions `json:"options"`

	Created   bool                        `json:"created,omitempty"`
	Cursor    int64                       `json:"cursor,omitempty"` // 0: From
	Pass      int                         `json:"pass,omitempty"`
	SweepNext bool                        `json:"sweep_next,omitempty"`
	Runs      int                         `json:"runs,omitempty"`
	Batches   int                         `json:"batches,omitempty"`
	Totals    activities.ResetBatchResult `json:"totals"`
}

// ResetPartitionResult is what a ResetPartition returns.
type ResetPartitionResult struct {
	Partition int `json:"partition"`
	// Stopped is the track's state when the partition stopped before the
	// end of its range (paused); ConfigError the connector's
	// misconfiguration that stopped it.
	Stopped     breach.TrackState           `json:"stopped,omitempty"`
	ConfigError string                      `json:"config_error,omitempty"`
	Passes      int                         `json:"passes"`
	Batches     int                         `json:"batches"`
	Runs        int                         `json:"runs"`
	Totals      activities.ResetBatchResult `json:"totals"`
}

// The change that starts the follow-up monitoring with the reset, for
// workflow.GetVersion.
const (
	monitoringStartChange  = "monitoring-start"
	monitoringStartVersion = 1
)

// pollsPerRun bounds the polls of one run: about 11 events each.
const pollsPerRun = 100

// CredentialsWorkflow is the credential track of one incident (DESIGN.md
// track 4), ID breach.CredentialsWorkflowID, a child of the Incident
// workflow. The DPO starts the forced reset of every affected account
// (UpdateStartReset: no approval needed, it may start before the letters
// go out), which fans out over ResetPartition children; a misconfigured
// connector pauses it with the error shown (it never fails silently nor
// retries forever), the DPO may pause it too (UpdatePauseReset), and
// resumes it (UpdateResumeReset), perhaps with a corrected configuration.
// Once every account is handled, the connector's status query runs every
// PollInterval (a durable timer) to record completions, until PollFor after
// the start or until the incident closes (SignalClose).
func CredentialsWorkflow(ctx workflow.Context, params CredentialsParams) error {
	if blank(params.IncidentID) {
		return invalidParams("incident_id", "incident_id is required")
	}
	r := &credentialsRun{params: params, logger: workflow.GetLogger(ctx), mu: workflow.NewMutex(ctx)}
	if params.State != nil {
		r.st = *params.State
	}
	if r.st.Phase == "" {
		r.st.Phase = breach.TrackIdle
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	closeCh := workflow.GetSignalChannel(ctx, SignalClose)
	workflow.Go(ctx, func(ctx workflow.Context) {
		closeCh.Receive(ctx, nil)
		r.closed = true
	})
	polls := 0
	for {
		if r.st.Phase == breach.TrackPolling && !r.closed && !r.launch {
			if wait := r.st.NextPollAt.Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.closed }); err != nil {
					return err
				}
				continue
			}
			if !workflow.Now(ctx).Before(*r.st.PollEndsAt) {
				r.end(ctx, "the follow-up period ended")
				continue
			}
			r.poll(ctx)
			polls++
			if polls < pollsPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				continue
			}
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if r.closed || r.launch {
				continue
			}
			return r.continueAsNew(ctx)
		}
		err := workflow.Await(ctx, func() bool {
			return r.launch || r.roundEnded() || (r.closed && !r.active()) ||
				(r.st.Phase == breach.TrackPolling && !r.closed) ||
				(workflow.GetInfo(ctx).GetContinueAsNewSuggested() && !r.active())
		})
		if err != nil {
			return err
		}
		switch {
		case r.launch:
			r.launch = false
			if err := r.startPartitions(ctx); err != nil {
				return err
			}
		case r.roundEnded():
			r.finishRound(ctx)
		case r.closed && !r.active():
			if r.st.Phase != breach.TrackIdle && r.st.Phase != breach.TrackEnded {
				r.end(ctx, "the incident was closed")
			}
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		case r.st.Phase == breach.TrackPolling:
			continue
		default: // continue-as-new, nothing running
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if r.closed || r.active() || r.launch {
				continue
			}
			return r.continueAsNew(ctx)
		}
	}
}

// credentialsRun is the in-memory state of one run of CredentialsWorkflow.
type credentialsRun struct {
	params   CredentialsParams
	st       CredentialsState
	closed   bool
	launch   bool // a round was started: start its partitions
	children []workflow.ChildWorkflowFuture
	finished int    // partitions of the round that ended
	failure  string // a partition's failure in this round
	ending   bool   // finishRound is running
	logger   log.Logger
	mu       workflow.Mutex // serialises the update handlers
}

func (r *credentialsRun) continueAsNew(ctx workflow.Context) error {
	st := r.st
	return workflow.NewContinueAsNewError(ctx, CredentialsWorkflowName, CredentialsParams{IncidentID: r.params.IncidentID, State: &st})
}

func (r *credentialsRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CredentialsView, error) { return r.view(), nil }); err != nil {
		return err
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateStartReset, r.startReset, r.validateStartReset},
		{UpdatePauseReset, r.pauseReset, r.validatePauseReset},
		{UpdateResumeReset, r.resumeReset, r.validateResumeReset},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	return nil
}

// active: partitions of the current round still run.
func (r *credentialsRun) active() bool { return r.finished < len(r.children) }

// roundEnded: every partition of the round ended.
func (r *credentialsRun) roundEnded() bool {
	return len(r.children) > 0 && r.finished == len(r.children) && !r.ending
}

func (r *credentialsRun) view() CredentialsView {
	v := CredentialsView{IncidentID: r.params.IncidentID, Closed: r.closed, CredentialsState: r.st, Running: len(r.children) - r.finished}
	v.Ranges = append([]PartitionRange(nil), r.st.Ranges...)
	return v
}

func (r *credentialsRun) open() error {
	if r.closed {
		return reject(breach.ErrConflict, "", "the incident is closed")
	}
	return nil
}

func validConfig(cfg *idp.Config, required bool) error {
	if cfg == nil {
		if required {
			return reject(breach.ErrInvalid, "config", "the identity provider connector's configuration is required (kind webhook, keycloak or sql)")
		}
		return nil
	}
	if err := cfg.Validate(); err != nil {
		de := DomainError(err)
		if de == nil {
			return reject(breach.ErrInvalid, "config", "%v", err)
		}
		return reject(breach.ErrInvalid, "config."+de.Field, "%s", de.Message)
	}
	return nil
}

func (r *credentialsRun) validateStartReset(ctx workflow.Context, u StartResetUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if r.st.Phase != breach.TrackIdle {
		return reject(breach.ErrConflict, "", "the reset was started already (%s)", r.st.Phase)
	}
	if err := validConfig(u.Config, true); err != nil {
		return err
	}
	return u.Options.withDefaults().validate()
}

// checkConnector runs Connector.Check: a misconfiguration refuses the
// update at once, naming what is wrong.
func (r *credentialsRun) checkConnector(ctx workflow.Context, cfg *idp.Config) error {
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.CheckConnector, activities.CheckConnectorInput{
		IncidentID: r.params.IncidentID, Config: cfg,
	}).Get(ctx, nil)
	if msg, ok := configError(err); ok {
		return reject(breach.ErrInvalid, "config", "%s", msg)
	}
	if de := DomainError(err); de != nil {
		return reject(de.Code, de.Field, "%s", de.Message)
	}
	return err
}

// configError is the message of a connector misconfiguration reported by an
// activity (type idp.ConfigErrorType).
func configError(err error) (string, bool) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == idp.ConfigErrorType {
		return ae.Message(), true
	}
	return "", false
}

func (r *credentialsRun) startReset(ctx workflow.Context, u StartResetUpdate) (CredentialsView, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return CredentialsView{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateStartReset(ctx, u); err != nil {
		return CredentialsView{}, err
	}
	if err := r.checkConnector(ctx, u.Config); err != nil {
		return CredentialsView{}, err
	}
	opts := u.Options.withDefaults()
	encoded, err := json.Marshal(opts)
	if err != nil {
		return CredentialsView{}, err
	}
	var a *activities.Activities
	var ref activities.ResetRef
	err = workflow.ExecuteActivity(updateActivityCtx(ctx), a.StartReset, activities.StartResetInput{
		OpKey: updateOpKey(ctx), RunID: runID(ctx), IncidentID: r.params.IncidentID, Actor: u.Actor,
		Config: *u.Config, Options: encoded,
	}).Get(ctx, &ref)
	if err != nil {
		return CredentialsView{}, domainFailure(err)
	}
	started := ref.StartedAt
	r.st = CredentialsState{
		Phase: breach.TrackRunning, StartedAt: &started, StartedBy: u.Actor.UserID, Accounts: ref.Accounts,
		Options: opts, Round: ref.Round, Ranges: SplitRange(ref.MinPerson, ref.MaxPerson, opts.Partitions),
	}
	r.launch = true
	// The follow-up monitoring starts with the reset: tell the incident,
	// which owns it. Runs recorded before this have no marker.
	if workflow.GetVersion(ctx, monitoringStartChange, workflow.DefaultVersion, monitoringStartVersion) == monitoringStartVersion {
		if parent := workflow.GetInfo(ctx).ParentWorkflowExecution; parent != nil {
			err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalResetStarted, ResetStarted{StartedAt: started}).Get(ctx, nil)
			if err != nil {
				// The reset itself goes on; the incident shows no monitoring.
				r.logger.Error("signal the incident that the reset started", "error", err)
			}
		}
	}
	return r.view(), nil
}

func (r *credentialsRun) validatePauseReset(ctx workflow.Context, u PauseResetUpdate) error {
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if blank(u.Reason) {
		return reject(breach.ErrInvalid, "reason", "pausing the reset needs a reason")
	}
	if r.st.Phase != breach.TrackRunning {
		return reject(breach.ErrConflict, "", "the reset is %s, not running", r.st.Phase)
	}
	return nil
}

func (r *credentialsRun) pauseReset(ctx workflow.Context, u PauseResetUpdate) (CredentialsView, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return CredentialsView{}, err
	}
	defer r.mu.Unlock()
	if err := r.validatePauseReset(ctx, u); err != nil {
		return CredentialsView{}, err
	}
	if err := r.setState(ctx, updateOpKey(ctx), u.Actor, breach.TrackPaused, u.Reason, nil); err != nil {
		return CredentialsView{}, err
	}
	r.st.Phase = breach.TrackPaused
	r.stopPartitions(ctx)
	return r.view(), nil
}

func (r *credentialsRun) validateResumeReset(ctx workflow.Context, u ResumeResetUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if r.st.Phase != breach.TrackPaused {
		return reject(breach.ErrConflict, "", "the reset is %s, not paused", r.st.Phase)
	}
	if r.active() {
		return reject(breach.ErrConflict, "", "%d partitions of round %d are still stopping: try again in a moment", len(r.children)-r.finished, r.st.Round)
	}
	return validConfig(u.Config, false)
}

func (r *credentialsRun) resumeReset(ctx workflow.Context, u ResumeResetUpdate) (CredentialsView, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return CredentialsView{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateResumeReset(ctx, u); err != nil {
		return CredentialsView{}, err
	}
	if err := r.checkConnector(ctx, u.Config); err != nil {
		return CredentialsView{}, err
	}
	var a *activities.Activities
	var ref activities.ResetRef
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SetResetState, activities.ResetStateInput{
		OpKey: updateOpKey(ctx), RunID: runID(ctx), IncidentID: r.params.IncidentID, Actor: u.Actor,
		State: breach.TrackRunning, Config: u.Config,
	}).Get(ctx, &ref)
	if err != nil {
		return CredentialsView{}, domainFailure(err)
	}
	r.st.Phase, r.st.Round, r.st.Error = breach.TrackRunning, ref.Round, ""
	r.launch = true
	return r.view(), nil
}

// setState records a move of the track (audited by the activity). A
// person's move (an update) gives up after a few attempts so that they get
// an answer; the workflow's own moves retry until recorded.
func (r *credentialsRun) setState(ctx workflow.Context, opKey string, actor breach.Actor, to breach.TrackState, reason string, cfg *idp.Config) error {
	var a *activities.Activities
	actx := alarmActivityCtx(ctx)
	if actor.Role == breach.RoleDPO {
		actx = updateActivityCtx(ctx)
	}
	err := workflow.ExecuteActivity(actx, a.SetResetState, activities.ResetStateInput{
		OpKey: opKey, RunID: runID(ctx), IncidentID: r.params.IncidentID, Actor: actor, State: to, Reason: reason, Config: cfg,
	}).Get(ctx, nil)
	return domainFailure(err)
}

// startPartitions starts one ResetPartition child per range for the
// current round and follows their ends.
func (r *credentialsRun) startPartitions(ctx workflow.Context) error {
	if err := r.mu.Lock(ctx); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if r.st.Phase != breach.TrackRunning {
		return nil // paused before its partitions started
	}
	round := r.st.Round
	rate := r.st.Options.Rate / float64(max(len(r.st.Ranges), 1))
	r.children = make([]workflow.ChildWorkflowFuture, len(r.st.Ranges))
	r.finished, r.failure = 0, ""
	for i, pr := range r.st.Ranges {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.ResetPartitionWorkflowID(r.params.IncidentID, round, pr.Partition),
		})
		r.children[i] = workflow.ExecuteChildWorkflow(cctx, ResetPartitionWorkflowName, ResetPartitionParams{
			IncidentID: r.params.IncidentID, Round: round, Partition: pr.Partition, From: pr.From, To: pr.To,
			Rate: rate, Options: r.st.Options,
		})
	}
	for i, c := range r.children {
		if err := c.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start reset partition %d: %w", r.st.Ranges[i].Partition, err)
		}
	}
	for i, c := range r.children {
		workflow.Go(ctx, func(ctx workflow.Context) {
			var res ResetPartitionResult
			if err := c.Get(ctx, &res); err != nil {
				r.logger.Error("reset partition ended with an error", "partition", r.st.Ranges[i].Partition, "error", err)
				if r.failure == "" {
					r.failure = fmt.Sprintf("partition %d failed: %v", r.st.Ranges[i].Partition, err)
				}
			}
			r.st.Totals.Add(res.Totals)
			r.st.Batches += res.Batches
			r.st.Runs += res.Runs
			if res.ConfigError != "" && r.st.Phase == breach.TrackRunning {
				// The batch paused the track in Postgres with the error; the
				// other partitions stop now rather than at their next chunk.
				r.st.Phase, r.st.Error = breach.TrackPaused, res.ConfigError
				r.stopPartitions(ctx)
			}
			r.finished++
		})
	}
	return nil
}

// stopPartitions tells the partitions of the round to stop. Their batches
// also read the track's state in Postgres between chunks.
func (r *credentialsRun) stopPartitions(ctx workflow.Context) {
	for i := range r.children {
		id := breach.ResetPartitionWorkflowID(r.params.IncidentID, r.st.Round, r.st.Ranges[i].Partition)
		if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalResetStop, nil).Get(ctx, nil); err != nil {
			r.logger.Info("signal to a reset partition not delivered", "partition", r.st.Ranges[i].Partition, "error", err)
		}
	}
}

// finishRound follows the end of every partition of a round: paused (by
// the DPO or a misconfiguration), or every account handled, and polling
// starts.
func (r *credentialsRun) finishRound(ctx workflow.Context) {
	r.ending = true
	defer func() { r.ending = false }()
	if err := r.mu.Lock(ctx); err != nil {
		return
	}
	defer r.mu.Unlock()
	r.children, r.finished = nil, 0
	failure := r.failure
	r.failure = ""
	if r.st.Phase != breach.TrackRunning {
		return // paused: a resume starts the next round
	}
	key := fmt.Sprintf("%s/round/%d", workflow.GetInfo(ctx).WorkflowExecution.ID, r.st.Round)
	if failure != "" {
		// Not a misconfiguration, not retryable: the DPO sees it and resumes.
		if err := r.setState(ctx, key+"/failed", breach.System, breach.TrackPaused, failure, nil); err != nil {
			r.logger.Error("pausing the track after a failed partition failed", "error", err)
		}
		r.st.Phase, r.st.Error = breach.TrackPaused, failure
		return
	}
	if err := r.setState(ctx, key+"/done", breach.System, breach.TrackPolling, "", nil); err != nil {
		r.logger.Error("recording the end of the reset failed", "error", err)
	}
	now := workflow.Now(ctx)
	next, ends := now.Add(r.st.Options.PollInterval), r.st.StartedAt.Add(r.st.Options.PollFor)
	r.st.Phase, r.st.ResetDoneAt, r.st.NextPollAt, r.st.PollEndsAt = breach.TrackPolling, &now, &next, &ends
}

// poll runs one status poll; a failure is kept and the next poll comes at
// its time anyway.
func (r *credentialsRun) poll(ctx workflow.Context) {
	var a *activities.Activities
	var res activities.PollStatusResult
	r.st.Polls++
	err := workflow.ExecuteActivity(pollActivityCtx(ctx, r.st.Options), a.PollStatus, activities.PollStatusInput{
		IncidentID: r.params.IncidentID, Poll: r.st.Polls, Chunk: r.st.Options.Chunk, Rate: r.st.Options.Rate,
	}).Get(ctx, &res)
	now := workflow.Now(ctx)
	next := now.Add(r.st.Options.PollInterval)
	r.st.LastPollAt, r.st.NextPollAt = &now, &next
	r.st.Completed += int64(res.Completed)
	r.st.PollError = res.Error
	if err != nil {
		r.logger.Warn("status poll failed", "poll", r.st.Polls, "error", err)
		r.st.PollError = err.Error()
	}
}

// end records the end of the track.
func (r *credentialsRun) end(ctx workflow.Context, reason string) {
	key := workflow.GetInfo(ctx).WorkflowExecution.ID + "/ended"
	if err := r.setState(ctx, key, breach.System, breach.TrackEnded, reason, nil); err != nil {
		r.logger.Error("recording the end of the credential track failed", "error", err)
	}
	r.st.Phase = breach.TrackEnded
	r.st.NextPollAt = nil
}

// resetActivityCtx runs the reset batches: retried without end while the
// provider is unreachable (after its Retry-After), heartbeating; a
// misconfiguration is not retried (the track pauses).
func resetActivityCtx(ctx workflow.Context, o ResetOptions) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    o.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
}

// pollActivityCtx runs a status poll over every account not completed: a
// long activity, heartbeating; a poll that keeps failing gives way to the
// next one.
func pollActivityCtx(ctx workflow.Context, o ResetOptions) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: min(o.PollInterval, 6*time.Hour),
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    10 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
			MaximumAttempts:    5,
		},
	})
}
