package workflows

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// RegimeWorkflow runs one reporting regime of an incident (GDPR Art. 33 towards
// the CNIL, NIS2 Art. 23 towards the CSIRT, ...): drafts -> approval (four-eyes)
// -> filing, for every stage of breach.Regimes[params.Regime], with durable
// reminders before each deadline and an escalation when one passes unfiled. It
// walks the regime table: no regime has a code path of its own. It ends on
// SignalClose from the incident.
func RegimeWorkflow(ctx workflow.Context, params RegimeParams) error {
	regime, ok := breach.Regimes[params.Regime]
	if !ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("unknown regime %q", params.Regime), ErrorTypePrefix+string(breach.ErrInvalid), nil)
	}
	r := &regimeRun{
		params:  params,
		regime:  regime,
		offsets: reminderOffsets(params.ReminderOffsets),
		wfID:    workflow.GetInfo(ctx).WorkflowExecution.ID,
		logger:  workflow.GetLogger(ctx),
		mu:      workflow.NewMutex(ctx),
		poke:    workflow.NewBufferedChannel(ctx, 1),
	}
	if params.State != nil {
		r.st = *params.State
	} else {
		r.st = RegimeState{AwareAt: params.AwareAt, NotificationNeeded: true}
	}
	if r.st.Filed == nil {
		r.st.Filed = map[breach.StageCode]time.Time{}
	}
	if r.st.Alarms == nil {
		r.st.Alarms = map[string]string{}
	}
	if r.st.Escalated == nil {
		r.st.Escalated = map[breach.StageCode]time.Time{}
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	r.awareCh = workflow.GetSignalChannel(ctx, SignalAwareAtChanged)
	r.needCh = workflow.GetSignalChannel(ctx, SignalNotificationNeeded)
	r.closeCh = workflow.GetSignalChannel(ctx, SignalClose)

	for !r.closed {
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			r.drainSignals(ctx)
			if r.closed {
				break
			}
			next := r.params
			next.AwareAt = r.st.AwareAt
			next.ReminderOffsets = r.offsets
			st := r.st
			next.State = &st
			return workflow.NewContinueAsNewError(ctx, RegimeWorkflowName, next)
		}
		now := workflow.Now(ctx)
		pending := r.armAlarms(now) // earliest first
		if len(pending) == 0 {
			r.waitForChange(ctx, now, nil)
			continue
		}
		if next := pending[0]; !next.At.After(now) {
			r.fire(ctx, next)
			continue // the state may have moved while the alarm was recorded
		}
		r.waitForChange(ctx, now, &pending[0])
	}
	// In-flight updates finish before the run ends (their activities already ran
	// or are running; dropping them would leave the caller without an answer).
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	return nil
}

// regimeRun is the in-memory state of one run of RegimeWorkflow.
type regimeRun struct {
	params  RegimeParams
	regime  breach.Regime
	offsets []time.Duration
	st      RegimeState
	closed  bool
	wfID    string
	logger  log.Logger
	mu      workflow.Mutex   // serialises the update handlers
	poke    workflow.Channel // wakes the main loop after an update changed state
	awareCh workflow.ReceiveChannel
	needCh  workflow.ReceiveChannel
	closeCh workflow.ReceiveChannel
}

// reminderOffsets keeps the positive offsets, longest first, defaulting to
// breach.DefaultReminderOffsets.
func reminderOffsets(in []time.Duration) []time.Duration {
	var out []time.Duration
	for _, d := range in {
		if d > 0 && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = slices.Clone(breach.DefaultReminderOffsets)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

func (r *regimeRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (RegimeView, error) {
		return r.view(workflow.Now(ctx)), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSaveDraft, r.saveDraft,
		workflow.UpdateHandlerOptions{Validator: r.validateSaveDraft}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecideDraft, r.decideDraft,
		workflow.UpdateHandlerOptions{Validator: r.validateDecideDraft}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRecordFiling, r.recordFiling,
		workflow.UpdateHandlerOptions{Validator: r.validateRecordFiling})
}

// changed wakes the main loop so that it recomputes the alarms.
func (r *regimeRun) changed() { r.poke.SendAsync(struct{}{}) }

// ---- drafts -------------------------------------------------------------

func (r *regimeRun) stage(code breach.StageCode) (breach.Stage, error) {
	s, ok := r.regime.Stage(code)
	if !ok {
		return breach.Stage{}, reject(breach.ErrInvalid, "stage", "stage %q does not exist in regime %s", code, r.regime.Code)
	}
	return s, nil
}

func (r *regimeRun) find(key breach.DraftKey) *DraftStatus {
	for i := range r.st.Drafts {
		if r.st.Drafts[i].Key == key {
			return &r.st.Drafts[i]
		}
	}
	return nil
}

// lastSeq is the draft of stage with the highest seq, or nil.
func (r *regimeRun) lastSeq(stage breach.StageCode) *DraftStatus {
	var last *DraftStatus
	for i := range r.st.Drafts {
		d := &r.st.Drafts[i]
		if d.Key.Stage == stage && (last == nil || d.Key.Seq > last.Key.Seq) {
			last = d
		}
	}
	return last
}

// existingKey names an existing draft: a non-repeatable stage has one draft
// (seq 0 or 1, kept as 1); a repeatable one needs its seq (1..).
func (r *regimeRun) existingKey(s breach.Stage, seq int) (breach.DraftKey, *DraftStatus, error) {
	key := breach.DraftKey{Regime: r.regime.Code, Stage: s.Code, Seq: seq}
	if !s.Repeatable {
		if seq != 0 && seq != 1 {
			return key, nil, reject(breach.ErrInvalid, "seq", "stage %s is not repeatable: seq must be 0 or 1", s.Code)
		}
		key.Seq = 1
	} else if seq < 1 {
		return key, nil, reject(breach.ErrInvalid, "seq", "stage %s is repeatable: name the filing by its seq (1..)", s.Code)
	}
	d := r.find(key)
	if d == nil {
		return key, nil, reject(breach.ErrNotFound, "seq", "no draft for stage %s seq %d", s.Code, key.Seq)
	}
	return key, d, nil
}

// saveTarget is the draft a save writes to: nil current when it opens a new one.
func (r *regimeRun) saveTarget(s breach.Stage, seq int) (breach.DraftKey, *DraftStatus, error) {
	key := breach.DraftKey{Regime: r.regime.Code, Stage: s.Code, Seq: seq}
	switch {
	case !s.Repeatable:
		if seq != 0 && seq != 1 {
			return key, nil, reject(breach.ErrInvalid, "seq", "stage %s is not repeatable: seq must be 0 or 1", s.Code)
		}
		key.Seq = 1
		return key, r.find(key), nil
	case seq < 0:
		return key, nil, reject(breach.ErrInvalid, "seq", "seq must be 0 (open the next filing) or an existing seq")
	case seq == 0:
		// Art. 33(4): complementary filings come one after the other.
		last := r.lastSeq(s.Code)
		if last == nil {
			key.Seq = 1
			return key, nil, nil
		}
		if last.State != breach.DraftFiled {
			return key, nil, reject(breach.ErrConflict, "seq", "%s seq %d is not filed yet: edit it instead of opening another", s.Code, last.Key.Seq)
		}
		key.Seq = last.Key.Seq + 1
		return key, nil, nil
	default:
		d := r.find(key)
		if d == nil {
			return key, nil, reject(breach.ErrNotFound, "seq", "no draft for stage %s seq %d: use seq 0 to open the next one", s.Code, seq)
		}
		return key, d, nil
	}
}

func (r *regimeRun) open() error {
	if r.closed {
		return reject(breach.ErrConflict, "", "the incident is closed")
	}
	return nil
}

func (r *regimeRun) validateSaveDraft(ctx workflow.Context, u SaveDraftUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	// Drafting is for the DPO and compliance staff; four-eyes is enforced at approval.
	if err := requireRole(u.Actor, breach.RoleDPO, breach.RoleApprover); err != nil {
		return err
	}
	s, err := r.stage(u.Stage)
	if err != nil {
		return err
	}
	if s.Requires != "" {
		if _, ok := r.st.Filed[s.Requires]; !ok {
			return reject(breach.ErrConflict, "stage", "stage %s needs stage %s filed first", s.Code, s.Requires)
		}
	}
	if _, filed := r.st.Filed[s.Code]; filed && !s.Repeatable {
		return reject(breach.ErrConflict, "stage", "stage %s is already filed: further information goes in a complementary filing", s.Code)
	}
	if l := u.Fields.Language; l != "" && l != breach.French && l != breach.English {
		return reject(breach.ErrInvalid, "fields.language", "language must be %q or %q", breach.French, breach.English)
	}
	_, cur, err := r.saveTarget(s, u.Seq)
	if err != nil {
		return err
	}
	current := 0
	if cur != nil {
		if cur.State == breach.DraftFiled {
			return reject(breach.ErrConflict, "seq", "%s seq %d is already filed", s.Code, cur.Key.Seq)
		}
		current = cur.Current.Version
	}
	if u.BaseVersion != current {
		return reject(breach.ErrConflict, "base_version", "stale version: base version %d, current version %d", u.BaseVersion, current)
	}
	return nil
}

func (r *regimeRun) saveDraft(ctx workflow.Context, u SaveDraftUpdate) (activities.DraftRef, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return activities.DraftRef{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateSaveDraft(ctx, u); err != nil { // state may have moved while waiting
		return activities.DraftRef{}, err
	}
	s, _ := r.stage(u.Stage)
	key, cur, _ := r.saveTarget(s, u.Seq)
	draftedBy := u.Actor.UserID
	if cur != nil {
		draftedBy = cur.Current.DraftedBy
	}
	var a *activities.Activities
	var ref activities.DraftRef
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SaveDraft, activities.SaveDraftInput{
		OpKey:       updateOpKey(ctx),
		RunID:       runID(ctx),
		IncidentID:  r.params.IncidentID,
		Key:         key,
		BaseVersion: u.BaseVersion,
		DraftedBy:   draftedBy,
		Actor:       u.Actor,
		Fields:      u.Fields,
	}).Get(ctx, &ref)
	if err != nil {
		return activities.DraftRef{}, err
	}
	if d := r.find(key); d != nil {
		d.Current, d.State = ref, breach.DraftPending
	} else {
		r.st.Drafts = append(r.st.Drafts, DraftStatus{Key: key, Current: ref, State: breach.DraftPending})
	}
	r.changed()
	return ref, nil
}

func (r *regimeRun) validateDecideDraft(ctx workflow.Context, u DecideDraftUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleApprover); err != nil {
		return err
	}
	s, err := r.stage(u.Stage)
	if err != nil {
		return err
	}
	_, d, err := r.existingKey(s, u.Seq)
	if err != nil {
		return err
	}
	if d.State == breach.DraftFiled {
		return reject(breach.ErrConflict, "version", "%s seq %d is already filed", s.Code, d.Key.Seq)
	}
	if u.Version != d.Current.Version {
		return reject(breach.ErrConflict, "version", "version %d is not the current version (%d)", u.Version, d.Current.Version)
	}
	if d.State != breach.DraftPending {
		return reject(breach.ErrConflict, "version", "version %d was already decided (%s)", u.Version, d.State)
	}
	// Four-eyes: whoever wrote a text never approves it.
	if u.Actor.UserID == d.Current.DraftedBy {
		return reject(breach.ErrForbidden, "actor", "four-eyes: the author of the draft may not decide on it")
	}
	if u.Actor.UserID == d.Current.EditedBy {
		return reject(breach.ErrForbidden, "actor", "four-eyes: the last editor of this version may not decide on it")
	}
	if !u.Approve && blank(u.Comment) {
		return reject(breach.ErrInvalid, "comment", "a returned draft needs a comment saying what to change")
	}
	if u.Approve && !d.Current.HasDelayReasons {
		if due, ok := r.regime.DueAt(s.Code, r.st.AwareAt, r.st.Filed); ok && workflow.Now(ctx).After(due) {
			return reject(breach.ErrInvalid, "delay_reasons",
				"reasons for delay are mandatory past the deadline (%s, due %s): add them in a new version",
				r.regime.Article, due.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func (r *regimeRun) decideDraft(ctx workflow.Context, u DecideDraftUpdate) (DraftStatus, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return DraftStatus{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateDecideDraft(ctx, u); err != nil {
		return DraftStatus{}, err
	}
	s, _ := r.stage(u.Stage)
	key, d, _ := r.existingKey(s, u.Seq)
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.DecideDraft, activities.DecideDraftInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		DraftID:    d.Current.ID,
		Actor:      u.Actor,
		Approve:    u.Approve,
		Comment:    u.Comment,
	}).Get(ctx, nil)
	if err != nil {
		return DraftStatus{}, err
	}
	d = r.find(key)
	if u.Approve {
		d.State = breach.DraftApproved
	} else {
		d.State = breach.DraftReturned // a new version is needed before approval
	}
	r.changed()
	return *d, nil
}

// late says whether a filing at filedAt misses the stage's deadline.
func (r *regimeRun) late(s breach.Stage, filedAt time.Time) (*time.Time, bool) {
	due, ok := r.regime.DueAt(s.Code, r.st.AwareAt, r.st.Filed)
	if !ok {
		return nil, false
	}
	return &due, filedAt.After(due)
}

func (r *regimeRun) validateRecordFiling(ctx workflow.Context, u RecordFilingUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	s, err := r.stage(u.Stage)
	if err != nil {
		return err
	}
	_, d, err := r.existingKey(s, u.Seq)
	if err != nil {
		return err
	}
	if d.State == breach.DraftFiled {
		return reject(breach.ErrConflict, "seq", "%s seq %d is already filed", s.Code, d.Key.Seq)
	}
	if d.State != breach.DraftApproved {
		return reject(breach.ErrConflict, "stage", "filing needs an approved current version (version %d is %s)", d.Current.Version, d.State)
	}
	if u.FiledAt.IsZero() {
		return reject(breach.ErrInvalid, "filed_at", "filed_at is required")
	}
	if u.FiledAt.After(workflow.Now(ctx)) {
		return reject(breach.ErrInvalid, "filed_at", "filed_at is in the future")
	}
	if blank(u.Channel) {
		return reject(breach.ErrInvalid, "channel", "channel is required")
	}
	if blank(u.Reference) {
		return reject(breach.ErrInvalid, "reference", "the authority's receipt reference is required")
	}
	if due, late := r.late(s, u.FiledAt); late && !d.Current.HasDelayReasons && blank(u.DelayReasons) {
		return reject(breach.ErrInvalid, "delay_reasons",
			"reasons for delay are mandatory past the deadline (%s, due %s)", r.regime.Article, due.UTC().Format(time.RFC3339))
	}
	return nil
}

func (r *regimeRun) recordFiling(ctx workflow.Context, u RecordFilingUpdate) (FilingResult, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return FilingResult{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateRecordFiling(ctx, u); err != nil {
		return FilingResult{}, err
	}
	s, _ := r.stage(u.Stage)
	key, d, _ := r.existingKey(s, u.Seq)
	due, late := r.late(s, u.FiledAt)
	var a *activities.Activities
	var filingID string
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.RecordFiling, activities.FilingInput{
		OpKey:        updateOpKey(ctx),
		RunID:        runID(ctx),
		IncidentID:   r.params.IncidentID,
		Key:          key,
		DraftID:      d.Current.ID,
		Actor:        u.Actor,
		FiledAt:      u.FiledAt,
		Channel:      u.Channel,
		Reference:    u.Reference,
		DueAt:        due,
		Late:         late,
		DelayReasons: u.DelayReasons,
	}).Get(ctx, &filingID)
	if err != nil {
		return FilingResult{}, err
	}
	d = r.find(key)
	filedAt := u.FiledAt
	d.State, d.FilingID, d.FiledAt, d.Late = breach.DraftFiled, filingID, &filedAt, late
	_, seen := r.st.Filed[s.Code]
	if !seen {
		r.st.Filed[s.Code] = filedAt // anchors the deadlines of later stages
	}
	r.changed()
	if !seen {
		r.tellParent(ctx, StageFiled{Regime: r.regime.Code, Stage: s.Code, FiledAt: filedAt})
	}
	return FilingResult{FilingID: filingID, DueAt: due, Late: late}, nil
}

// tellParent reports a first filing to the incident, for its view. A failure
// is logged only: the filing is recorded and this run's state is right.
func (r *regimeRun) tellParent(ctx workflow.Context, f StageFiled) {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil || parent.ID == "" {
		return
	}
	if err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalStageFiled, f).Get(ctx, nil); err != nil {
		r.logger.Error("telling the incident about a filing failed", "stage", f.Stage, "error", err)
	}
}

// ---- deadlines and alarms -------------------------------------------------

type alarm struct {
	Key    string
	Stage  breach.StageCode
	Kind   activities.AlarmKind
	Before time.Duration
	DueAt  time.Time
	At     time.Time
}

// obligationsEnded: a stage that closes the regime (withdrawal, NIS2 final
// report) was filed.
func (r *regimeRun) obligationsEnded() bool {
	for _, s := range r.regime.Stages {
		if _, filed := r.st.Filed[s.Code]; filed && s.Closes {
			return true
		}
	}
	return false
}

// alarms lists the reminders and escalations the current state calls for:
// for every dated, unfiled stage, one reminder per offset before the due time
// and one escalation at it. The key holds the due time, so a moved deadline
// gives new keys and re-arms.
func (r *regimeRun) alarms() []alarm {
	if r.closed || !r.st.NotificationNeeded || r.obligationsEnded() {
		return nil
	}
	var out []alarm
	for _, s := range r.regime.Stages {
		if _, filed := r.st.Filed[s.Code]; filed {
			continue
		}
		due, ok := r.regime.DueAt(s.Code, r.st.AwareAt, r.st.Filed)
		if !ok {
			continue
		}
		for _, off := range r.offsets {
			out = append(out, r.newAlarm(s.Code, activities.AlarmReminder, off, due))
		}
		out = append(out, r.newAlarm(s.Code, activities.AlarmEscalation, 0, due))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func (r *regimeRun) newAlarm(stage breach.StageCode, kind activities.AlarmKind, before time.Duration, due time.Time) alarm {
	key := fmt.Sprintf("%s/alarm/%s/%s/%s/%s", r.wfID, stage, kind, before, due.UTC().Format(time.RFC3339Nano))
	return alarm{Key: key, Stage: stage, Kind: kind, Before: before, DueAt: due, At: due.Add(-before)}
}

// armAlarms arms the alarms the state calls for and returns those not yet
// fired, earliest first. A reminder whose time is already past when it is
// armed is skipped (the incident was opened late, or aware_at moved back); an
// escalation past its time fires at once, unless the stage was already
// escalated (see skipWhenArmed). Armed alarms
// that the state no longer calls for (a deadline moved, a stage was filed) are
// disarmed.
func (r *regimeRun) armAlarms(now time.Time) []alarm {
	want := r.alarms()
	keep := make(map[string]bool, len(want))
	var pending []alarm
	for _, al := range want {
		keep[al.Key] = true
		switch r.st.Alarms[al.Key] {
		case AlarmFired, AlarmSkipped:
			continue
		case "":
			if r.skipWhenArmed(al, now) {
				r.st.Alarms[al.Key] = AlarmSkipped
				continue
			}
			r.st.Alarms[al.Key] = AlarmArmed
		}
		pending = append(pending, al)
	}
	for k, v := range r.st.Alarms { // deleting: order does not matter
		if v == AlarmArmed && !keep[k] {
			delete(r.st.Alarms, k)
		}
	}
	return pending
}

// skipWhenArmed: a reminder already past when armed is pointless, and so is a
// second escalation of a stage already escalated when its deadline moves but
// stays past. A deadline moved into the future escalates again when it passes.
func (r *regimeRun) skipWhenArmed(al alarm, now time.Time) bool {
	if !al.At.Before(now) {
		return false
	}
	if al.Kind == activities.AlarmReminder {
		return true
	}
	_, escalated := r.st.Escalated[al.Stage]
	return escalated
}

// fire records one alarm through the RecordAlarm activity.
func (r *regimeRun) fire(ctx workflow.Context, al alarm) {
	var a *activities.Activities
	err := workflow.ExecuteActivity(alarmActivityCtx(ctx), a.RecordAlarm, activities.AlarmInput{
		OpKey:      al.Key,
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		Regime:     r.regime.Code,
		Stage:      al.Stage,
		Kind:       al.Kind,
		Before:     al.Before,
		DueAt:      al.DueAt,
	}).Get(ctx, nil)
	if err != nil {
		// Only a non-retryable failure gets here; do not loop on it.
		r.logger.Error("recording a deadline alarm failed", "stage", al.Stage, "kind", al.Kind, "error", err)
	}
	r.st.Alarms[al.Key] = AlarmFired
	if al.Kind == activities.AlarmEscalation {
		r.st.Escalated[al.Stage] = al.DueAt
	}
}

// waitForChange blocks until the next alarm is due, a signal arrives or an
// update changed the state. The timer is cancelled when something else wins,
// so moved deadlines never leave a stale timer behind.
func (r *regimeRun) waitForChange(ctx workflow.Context, now time.Time, next *alarm) {
	sel := workflow.NewSelector(ctx)
	var cancel workflow.CancelFunc
	if next != nil {
		tctx, c := workflow.WithCancel(ctx)
		cancel = c
		summary := fmt.Sprintf("%s %s %s", r.regime.Code, next.Stage, next.Kind)
		if next.Kind == activities.AlarmReminder {
			summary += " -" + next.Before.String()
		}
		sel.AddFuture(workflow.NewTimerWithOptions(tctx, next.At.Sub(now), workflow.TimerOptions{Summary: summary}),
			func(workflow.Future) {})
	}
	sel.AddReceive(r.awareCh, func(c workflow.ReceiveChannel, _ bool) { r.onAwareAt(ctx, c) })
	sel.AddReceive(r.needCh, func(c workflow.ReceiveChannel, _ bool) { r.onNeeded(ctx, c) })
	sel.AddReceive(r.closeCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); r.closed = true })
	sel.AddReceive(r.poke, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.Select(ctx)
	if cancel != nil {
		cancel()
	}
}

func (r *regimeRun) onAwareAt(ctx workflow.Context, c workflow.ReceiveChannel) {
	var t time.Time
	c.Receive(ctx, &t)
	r.setAwareAt(t)
}

func (r *regimeRun) setAwareAt(t time.Time) {
	if t.IsZero() {
		r.logger.Error("ignoring an aware_at signal without a time")
		return
	}
	r.st.AwareAt = t
}

func (r *regimeRun) onNeeded(ctx workflow.Context, c workflow.ReceiveChannel) {
	var need bool
	c.Receive(ctx, &need)
	r.st.NotificationNeeded = need
}

// drainSignals applies the signals already received, before continue-as-new.
func (r *regimeRun) drainSignals(ctx workflow.Context) {
	for {
		var t time.Time
		if !r.awareCh.ReceiveAsync(&t) {
			break
		}
		r.setAwareAt(t)
	}
	for {
		var need bool
		if !r.needCh.ReceiveAsync(&need) {
			break
		}
		r.st.NotificationNeeded = need
	}
	if r.closeCh.ReceiveAsync(nil) {
		r.closed = true
	}
}

// view answers QueryState: IDs, dates and enums only.
func (r *regimeRun) view(now time.Time) RegimeView {
	v := RegimeView{
		IncidentID:         r.params.IncidentID,
		Regime:             r.regime.Code,
		AwareAt:            r.st.AwareAt,
		NotificationNeeded: r.st.NotificationNeeded,
		Closed:             r.closed,
		Deadlines:          r.regime.Deadlines(r.st.AwareAt, r.st.Filed),
		Drafts:             slices.Clone(r.st.Drafts),
	}
	for _, al := range r.alarms() {
		state := r.st.Alarms[al.Key]
		if state == AlarmFired || state == AlarmSkipped {
			continue
		}
		if state == "" && r.skipWhenArmed(al, now) {
			continue
		}
		v.NextAlarm = &AlarmView{Stage: al.Stage, Kind: al.Kind, Before: al.Before, DueAt: al.DueAt, At: al.At}
		break
	}
	return v
}
