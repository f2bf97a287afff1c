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

// IncidentWorkflow is one breach, ID breach.WorkflowID(incident ID). It holds
// the Art. 33 clock (aware_at) and the DPO's assessment, and runs one
// RegimeWorkflow child per reporting regime (GDPR always, plus those
// configured) and, since version peopleTrackVersion, the PeopleWorkflow child
// of the people track (Art. 34). People act on it through Updates:
// UpdateAssess, UpdateChangeAwareAt, UpdateClose. When the DPO closes it, it
// waits for the children to end and, since version purgeVersion, for the
// retention period (a durable timer), purges the contact data of its people
// (GDPR Art. 5(1)(e)) and ends.
func IncidentWorkflow(ctx workflow.Context, params IncidentParams) error {
	if blank(params.IncidentID) {
		return invalidParams("incident_id", "incident_id is required")
	}
	if params.AwareAt.IsZero() {
		return invalidParams("aware_at", "aware_at is required")
	}
	regimes, err := incidentRegimes(params.Regimes)
	if err != nil {
		return err
	}
	r := &incidentRun{
		params:  params,
		regimes: regimes,
		awareAt: params.AwareAt,
		filed:   map[breach.RegimeCode]map[breach.StageCode]time.Time{},
		logger:  workflow.GetLogger(ctx),
		mu:      workflow.NewMutex(ctx),
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	filedCh := workflow.GetSignalChannel(ctx, SignalStageFiled)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var f StageFiled
			filedCh.Receive(ctx, &f)
			r.onStageFiled(f)
		}
	})
	resetCh := workflow.GetSignalChannel(ctx, SignalResetStarted)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var rs ResetStarted
			resetCh.Receive(ctx, &rs)
			r.startMonitoring(ctx, rs)
		}
	})

	children := make([]workflow.ChildWorkflowFuture, len(regimes))
	for i, code := range regimes {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.RegimeWorkflowID(params.IncidentID, code),
		})
		children[i] = workflow.ExecuteChildWorkflow(cctx, RegimeWorkflowName, RegimeParams{
			IncidentID:      params.IncidentID,
			Regime:          code,
			AwareAt:         params.AwareAt,
			ReminderOffsets: params.ReminderOffsets,
		})
	}
	for i, c := range children {
		if err := c.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start the %s regime workflow: %w", regimes[i], err)
		}
	}
	// The people track came after the first incidents: their histories have
	// no marker here and replay without it.
	if workflow.GetVersion(ctx, peopleTrackChange, workflow.DefaultVersion, peopleTrackVersion) == peopleTrackVersion {
		pctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.PeopleWorkflowID(params.IncidentID),
		})
		r.people = workflow.ExecuteChildWorkflow(pctx, PeopleWorkflowName, PeopleParams{IncidentID: params.IncidentID})
		if err := r.people.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start the people workflow: %w", err)
		}
	}
	// The credential track came after the people track: histories recorded
	// before it have no marker here and replay without it.
	if workflow.GetVersion(ctx, credentialTrackChange, workflow.DefaultVersion, credentialTrackVersion) == credentialTrackVersion {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.CredentialsWorkflowID(params.IncidentID),
		})
		r.credentials = workflow.ExecuteChildWorkflow(cctx, CredentialsWorkflowName, CredentialsParams{IncidentID: params.IncidentID})
		if err := r.credentials.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start the credentials workflow: %w", err)
		}
	}
	r.started = true

	if err := workflow.Await(ctx, func() bool { return r.closed }); err != nil {
		return err
	}
	for i, c := range children {
		if err := c.Get(ctx, nil); err != nil {
			r.logger.Error("regime workflow ended with an error", "regime", regimes[i], "error", err)
		}
	}
	if r.people != nil {
		// It ends once no send is active: the people being told are told.
		if err := r.people.Get(ctx, nil); err != nil {
			r.logger.Error("people workflow ended with an error", "error", err)
		}
	}
	if r.credentials != nil {
		// It ends once its running partitions end.
		if err := r.credentials.Get(ctx, nil); err != nil {
			r.logger.Error("credentials workflow ended with an error", "error", err)
		}
	}
	if r.monitoring != nil {
		// It ends with its final report once told of the closure.
		if err := r.monitoring.Get(ctx, nil); err != nil {
			r.logger.Error("monitoring workflow ended with an error", "error", err)
		}
	}
	// The purge comes last: no child reads the contact data any more.
	if r.purgeAt != nil {
		if err := r.purge(ctx); err != nil {
			return err
		}
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// The change that added the purge after closure, for workflow.GetVersion:
// incidents closed before it have no marker in their close update and
// replay without the purge.
const (
	purgeChange  = "purge-after-close"
	purgeVersion = 1
)

// retention is the period between the closure and the purge.
func (r *incidentRun) retention() time.Duration {
	if r.params.RetentionAfterClose > 0 {
		return r.params.RetentionAfterClose
	}
	return breach.DefaultRetentionAfterClose
}

// purge waits until r.purgeAt (a durable timer: a worker restart or a
// deployment in the meantime changes nothing) and destroys the contact data
// of the incident's people (Art. 5(1)(e)). The children have ended: no
// letter is being sent. The activity is idempotent by its op key, and the
// store makes a second purge a no-op.
func (r *incidentRun) purge(ctx workflow.Context) error {
	if wait := r.purgeAt.Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.NewTimer(ctx, wait).Get(ctx, nil); err != nil {
			return err
		}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// One UPDATE over every person of the incident: minutes for millions.
		StartToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	})
	var a *activities.Activities
	var res activities.PurgeResult
	err := workflow.ExecuteActivity(actx, a.PurgePeople, activities.PurgeInput{
		OpKey:      workflow.GetInfo(ctx).WorkflowExecution.ID + "/purge",
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
	}).Get(ctx, &res)
	if err != nil {
		return fmt.Errorf("purge the contact data of the incident's people: %w", err)
	}
	r.purged = &res
	return nil
}

// The changes that added the people track and the credential track, for
// workflow.GetVersion.
const (
	peopleTrackChange      = "people-track"
	peopleTrackVersion     = 1
	credentialTrackChange  = "credential-track"
	credentialTrackVersion = 1
)

func invalidParams(field, msg string) error {
	e := &breach.Error{Code: breach.ErrInvalid, Field: field, Message: msg}
	return temporal.NewNonRetryableApplicationError(e.Error(), ErrorTypePrefix+string(breach.ErrInvalid), nil, e)
}

// incidentRegimes is GDPR first, then the configured regimes, once each.
func incidentRegimes(in []breach.RegimeCode) ([]breach.RegimeCode, error) {
	out := []breach.RegimeCode{breach.RegimeGDPR}
	for _, c := range in {
		if _, ok := breach.Regimes[c]; !ok {
			return nil, invalidParams("regimes", fmt.Sprintf("unknown regime %q", c))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// incidentRun is the in-memory state of IncidentWorkflow.
type incidentRun struct {
	params     IncidentParams
	regimes    []breach.RegimeCode
	awareAt    time.Time
	assessment *activities.AssessResult
	filed      map[breach.RegimeCode]map[breach.StageCode]time.Time
	people     workflow.ChildWorkflowFuture // the people track; nil in incidents that predate it
	// the credential track; nil in incidents that predate it
	credentials workflow.ChildWorkflowFuture
	// the follow-up monitoring, started with the reset; nil before
	monitoring workflow.ChildWorkflowFuture
	started    bool // the children run: they can be signalled
	closed     bool
	purgeAt    *time.Time              // set at closure (purgeVersion): when the purge runs
	purged     *activities.PurgeResult // once it ran
	logger     log.Logger
	mu         workflow.Mutex // serialises the update handlers
}

func (r *incidentRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (IncidentView, error) {
		return r.view(), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAssess, r.assess,
		workflow.UpdateHandlerOptions{Validator: r.validateAssess}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateChangeAwareAt, r.changeAwareAt,
		workflow.UpdateHandlerOptions{Validator: r.validateChangeAwareAt}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateClose, r.close,
		workflow.UpdateHandlerOptions{Validator: r.validateClose})
}

func (r *incidentRun) open() error {
	if r.closed {
		return reject(breach.ErrConflict, "", "the incident is closed")
	}
	return nil
}

func (r *incidentRun) validateAssess(ctx workflow.Context, u AssessUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	// Art. 33(5): a decision, and above all one not to notify, is documented with its reasons.
	if blank(u.Reason) {
		return reject(breach.ErrInvalid, "reason", "the assessment needs a reason")
	}
	if u.Risk != nil && !u.Risk.Valid() {
		return reject(breach.ErrInvalid, "risk", "risk must be %q, %q or %q", breach.RiskNone, breach.RiskSome, breach.RiskHigh)
	}
	if u.Exemption != nil {
		switch *u.Exemption {
		case breach.ExemptionUnintelligible, breach.ExemptionMitigated, breach.ExemptionDisproportion:
		default:
			return reject(breach.ErrInvalid, "exemption", "exemption must be an Art. 34(3) ground: %q, %q or %q",
				breach.ExemptionUnintelligible, breach.ExemptionMitigated, breach.ExemptionDisproportion)
		}
	}
	return nil
}

func (r *incidentRun) assess(ctx workflow.Context, u AssessUpdate) (activities.AssessResult, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return activities.AssessResult{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateAssess(ctx, u); err != nil {
		return activities.AssessResult{}, err
	}
	var a *activities.Activities
	var res activities.AssessResult
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.RecordAssessment, activities.AssessInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		Actor:      u.Actor,
		Risk:       u.Risk,
		Exemption:  u.Exemption,
		Reason:     u.Reason,
	}).Get(ctx, &res)
	if err != nil {
		return activities.AssessResult{}, err
	}
	r.assessment = &res
	// Art. 33(1): no risk likely means no notification: the GDPR track stops
	// reminding, the incident stays in the register (Art. 33(5)).
	need := res.Decided != breach.RiskNone
	if err := r.signal(ctx, breach.RegimeGDPR, SignalNotificationNeeded, need); err != nil {
		return res, err
	}
	return res, nil
}

func (r *incidentRun) validateChangeAwareAt(ctx workflow.Context, u ChangeAwareAtUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	// EDPB Guidelines 9/2022: record why aware_at is what it is.
	if blank(u.Reason) {
		return reject(breach.ErrInvalid, "reason", "changing aware_at needs a reason")
	}
	if u.AwareAt.IsZero() {
		return reject(breach.ErrInvalid, "aware_at", "aware_at is required")
	}
	if u.AwareAt.After(workflow.Now(ctx)) {
		return reject(breach.ErrInvalid, "aware_at", "aware_at is in the future")
	}
	if !r.params.DetectedAt.IsZero() && u.AwareAt.Before(r.params.DetectedAt) {
		return reject(breach.ErrInvalid, "aware_at", "aware_at is before detected_at")
	}
	if u.AwareAt.Equal(r.awareAt) {
		return reject(breach.ErrConflict, "aware_at", "aware_at is unchanged")
	}
	return nil
}

func (r *incidentRun) changeAwareAt(ctx workflow.Context, u ChangeAwareAtUpdate) error {
	if err := r.mu.Lock(ctx); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if err := r.validateChangeAwareAt(ctx, u); err != nil {
		return err
	}
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.ChangeAwareAt, activities.ChangeAwareAtInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		Actor:      u.Actor,
		AwareAt:    u.AwareAt,
		Reason:     u.Reason,
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	r.awareAt = u.AwareAt
	// Every regime's deadlines move with the clock's start.
	for _, code := range r.regimes {
		if err := r.signal(ctx, code, SignalAwareAtChanged, u.AwareAt); err != nil {
			return err
		}
	}
	return nil
}

func (r *incidentRun) validateClose(ctx workflow.Context, u CloseUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if blank(u.Summary) {
		return reject(breach.ErrInvalid, "summary", "closing needs a summary")
	}
	return nil
}

func (r *incidentRun) close(ctx workflow.Context, u CloseUpdate) error {
	if err := r.mu.Lock(ctx); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if err := r.validateClose(ctx, u); err != nil {
		return err
	}
	var a *activities.Activities
	in := activities.CloseInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		Actor:      u.Actor,
		Summary:    u.Summary,
	}
	if workflow.GetVersion(ctx, purgeChange, workflow.DefaultVersion, purgeVersion) == purgeVersion {
		// The store dates the purge from its closed_at, the register's
		// closure time, and the timer waits for that date.
		in.RetentionAfterClose = r.retention()
		var res activities.CloseResult
		if err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.CloseIncident, in).Get(ctx, &res); err != nil {
			return err
		}
		purgeAt := workflow.Now(ctx).Add(in.RetentionAfterClose)
		if res.PurgeAfter != nil {
			purgeAt = *res.PurgeAfter
		}
		r.purgeAt = &purgeAt
	} else if err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.CloseIncident, in).Get(ctx, nil); err != nil {
		return err
	}
	r.closed = true
	for _, code := range r.regimes {
		if err := r.signal(ctx, code, SignalClose, nil); err != nil {
			return err
		}
	}
	if r.people != nil {
		if err := r.people.SignalChildWorkflow(ctx, SignalClose, nil).Get(ctx, nil); err != nil {
			return fmt.Errorf("signal %s to the people workflow: %w", SignalClose, err)
		}
	}
	if r.credentials != nil {
		if err := r.credentials.SignalChildWorkflow(ctx, SignalClose, nil).Get(ctx, nil); err != nil {
			return fmt.Errorf("signal %s to the credentials workflow: %w", SignalClose, err)
		}
	}
	if r.monitoring != nil {
		if err := r.monitoring.SignalChildWorkflow(ctx, SignalClose, nil).Get(ctx, nil); err != nil {
			return fmt.Errorf("signal %s to the monitoring workflow: %w", SignalClose, err)
		}
	}
	return nil
}

// startMonitoring starts the follow-up monitoring (DESIGN.md track 5) when
// the credential track reports that the reset started: its period, its
// reminders to the people who have not changed their password and its
// reports count from that moment. It is a child of the incident, not of the
// credential track, because that track continues as new (which would end or
// orphan a child) while the incident keeps one run until the purge, which
// must wait for the monitoring's last read of the contact data. Once only,
// and never after the closure.
func (r *incidentRun) startMonitoring(ctx workflow.Context, rs ResetStarted) {
	if r.monitoring != nil || r.closed {
		return
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: breach.MonitoringWorkflowID(r.params.IncidentID),
	})
	r.monitoring = workflow.ExecuteChildWorkflow(cctx, MonitoringWorkflowName, MonitoringParams{
		IncidentID: r.params.IncidentID,
		StartedAt:  rs.StartedAt,
		Period:     r.params.MonitoringPeriod,
	})
	if err := r.monitoring.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		// Not started: nothing to signal at closure nor to wait for
		// before the purge, which must not be blocked by it.
		r.logger.Error("start the monitoring workflow", "error", err)
		r.monitoring = nil
	}
}

// signal sends a signal to one regime child, once the children run.
func (r *incidentRun) signal(ctx workflow.Context, code breach.RegimeCode, name string, arg any) error {
	if err := workflow.Await(ctx, func() bool { return r.started }); err != nil {
		return err
	}
	id := breach.RegimeWorkflowID(r.params.IncidentID, code)
	if err := workflow.SignalExternalWorkflow(ctx, id, "", name, arg).Get(ctx, nil); err != nil {
		return fmt.Errorf("signal %s to the %s regime workflow: %w", name, code, err)
	}
	return nil
}

func (r *incidentRun) onStageFiled(f StageFiled) {
	m := r.filed[f.Regime]
	if m == nil {
		m = map[breach.StageCode]time.Time{}
		r.filed[f.Regime] = m
	}
	if _, ok := m[f.Stage]; !ok {
		m[f.Stage] = f.FiledAt
	}
}

// view answers QueryState: IDs, dates and enums only.
func (r *incidentRun) view() IncidentView {
	v := IncidentView{
		IncidentID: r.params.IncidentID,
		DetectedAt: r.params.DetectedAt,
		AwareAt:    r.awareAt,
		Assessment: r.assessment,
		Closed:     r.closed,
		PurgeAt:    r.purgeAt,
		Purged:     r.purged,
	}
	for _, code := range r.regimes {
		v.Regimes = append(v.Regimes, RegimeRef{Regime: code, WorkflowID: breach.RegimeWorkflowID(r.params.IncidentID, code)})
		v.Deadlines = append(v.Deadlines, breach.Regimes[code].Deadlines(r.awareAt, r.filed[code])...)
	}
	if r.people != nil {
		v.PeopleWorkflowID = breach.PeopleWorkflowID(r.params.IncidentID)
	}
	if r.credentials != nil {
		v.CredentialsWorkflowID = breach.CredentialsWorkflowID(r.params.IncidentID)
	}
	return v
}
