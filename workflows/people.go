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

// DefaultSendOptions are the tuning of a send when the DPO gives none: 8
// partitions of batches of 1000 people, continuing as new every 200 batches
// (about 1,400 events per history), a one-minute lease checked every 20 s.
var DefaultSendOptions = SendOptions{
	Partitions:       8,
	BatchSize:        1000,
	BatchesPerRun:    200,
	Lease:            time.Minute,
	HeartbeatTimeout: 20 * time.Second,
	Chunk:            activities.DefaultChunk,
	RetryBase:        activities.DefaultRetryBase,
	MaxAttempts:      activities.DefaultMaxAttempts,
}

// withDefaults fills the zero options.
func (o SendOptions) withDefaults() SendOptions {
	d := DefaultSendOptions
	if o.Partitions == 0 {
		o.Partitions = d.Partitions
	}
	if o.BatchSize == 0 {
		o.BatchSize = d.BatchSize
	}
	if o.BatchesPerRun == 0 {
		o.BatchesPerRun = d.BatchesPerRun
	}
	if o.Lease == 0 {
		o.Lease = d.Lease
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = min(d.HeartbeatTimeout, o.Lease/3)
	}
	if o.Chunk == 0 {
		o.Chunk = d.Chunk
	}
	if o.RetryBase == 0 {
		o.RetryBase = d.RetryBase
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	return o
}

// validate checks options already defaulted.
func (o SendOptions) validate() error {
	switch {
	case o.Partitions < 1 || o.Partitions > 256:
		return reject(breach.ErrInvalid, "options.partitions", "must be 1 to 256")
	case o.BatchSize < 1 || o.BatchSize > 10_000:
		return reject(breach.ErrInvalid, "options.batch_size", "must be 1 to 10000")
	case o.BatchesPerRun < 1 || o.BatchesPerRun > 1000:
		return reject(breach.ErrInvalid, "options.batches_per_run", "must be 1 to 1000 (a history stays under 10,000 events)")
	case o.Lease < 2*time.Second:
		return reject(breach.ErrInvalid, "options.lease", "must be at least 2s")
	case o.HeartbeatTimeout < time.Second || o.HeartbeatTimeout*2 > o.Lease:
		return reject(breach.ErrInvalid, "options.heartbeat_timeout", "must be at least 1s and at most half the lease")
	case o.Chunk < 1 || o.Chunk > 5000:
		return reject(breach.ErrInvalid, "options.chunk", "must be 1 to 5000")
	case o.RetryBase < 100*time.Millisecond:
		return reject(breach.ErrInvalid, "options.retry_base", "must be at least 100ms")
	case o.MaxAttempts < 1 || o.MaxAttempts > 50:
		return reject(breach.ErrInvalid, "options.max_attempts", "must be 1 to 50")
	}
	return nil
}

// PeopleWorkflow is the people track of one incident (Art. 34), ID
// breach.PeopleWorkflowID, a child of the Incident workflow: the letter in
// each language, drafted and approved under four-eyes (UpdateSaveLetter,
// UpdateDecideLetter), then the send of the approved letters to every person
// (UpdateStartSend), fanned out over DeliveryPartition children, which the
// DPO can pause, resume and cancel (UpdatePauseSend, UpdateResumeSend,
// UpdateCancelSend). It ends when the incident closes (SignalClose), once no
// send is active.
func PeopleWorkflow(ctx workflow.Context, params PeopleParams) error {
	if blank(params.IncidentID) {
		return invalidParams("incident_id", "incident_id is required")
	}
	r := &peopleRun{
		params: params,
		logger: workflow.GetLogger(ctx),
		mu:     workflow.NewMutex(ctx),
	}
	if params.State != nil {
		r.st = *params.State
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	closeCh := workflow.GetSignalChannel(ctx, SignalClose)
	workflow.Go(ctx, func(ctx workflow.Context) {
		closeCh.Receive(ctx, nil)
		r.closed = true
	})
	// A send that was active when the previous run continued as new has no
	// partitions left (they ended with it): there is none, see below.
	for {
		err := workflow.Await(ctx, func() bool {
			return r.launch || r.sendEnded() || (r.closed && !r.active()) ||
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
		case r.sendEnded():
			r.finishSend(ctx)
		case r.closed && !r.active():
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		default: // continue-as-new, idle
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if r.closed || r.active() || r.launch {
				continue
			}
			st := r.st
			return workflow.NewContinueAsNewError(ctx, PeopleWorkflowName, PeopleParams{IncidentID: params.IncidentID, State: &st})
		}
	}
}

// peopleRun is the in-memory state of one run of PeopleWorkflow.
type peopleRun struct {
	params   PeopleParams
	st       PeopleState
	closed   bool
	launch   bool // a send was started: start its partitions
	children []workflow.ChildWorkflowFuture
	ending   bool // finishSend is running
	logger   log.Logger
	mu       workflow.Mutex // serialises the update handlers
}

func (r *peopleRun) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (PeopleView, error) { return r.view(), nil }); err != nil {
		return err
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateSaveLetter, r.saveLetter, r.validateSaveLetter},
		{UpdateDecideLetter, r.decideLetter, r.validateDecideLetter},
		{UpdateStartSend, r.startSend, r.validateStartSend},
		{UpdatePauseSend, r.pauseSend, r.validatePauseSend},
		{UpdateResumeSend, r.resumeSend, r.validateResumeSend},
		{UpdateCancelSend, r.cancelSend, r.validateCancelSend},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	return nil
}

// active: a send is running or paused, or its partitions have not all
// ended (a cancelled send's partitions finish their chunk first).
func (r *peopleRun) active() bool {
	s := r.st.Send
	if s == nil {
		return false
	}
	return s.State.Active() || (len(r.children) > 0 && s.Finished < len(s.Ranges))
}

// sendEnded: every partition of the running send ended.
func (r *peopleRun) sendEnded() bool {
	s := r.st.Send
	return s != nil && s.State == breach.SendRunning && len(r.children) > 0 && s.Finished == len(s.Ranges) && !r.ending
}

func (r *peopleRun) open() error {
	if r.closed {
		return reject(breach.ErrConflict, "", "the incident is closed")
	}
	return nil
}

func (r *peopleRun) letter(lang breach.Language) *LetterStatus {
	for i := range r.st.Letters {
		if r.st.Letters[i].Language == lang {
			return &r.st.Letters[i]
		}
	}
	return nil
}

func validLanguage(l breach.Language) error {
	if l != breach.French && l != breach.English {
		return reject(breach.ErrInvalid, "language", "language must be %q or %q", breach.French, breach.English)
	}
	return nil
}

// notWhileSending: what is sent is what was approved; letters stay as they
// are while a send is active.
func (r *peopleRun) notWhileSending() error {
	if r.active() {
		return reject(breach.ErrConflict, "", "send %d is %s: letters may not change while it is active", r.st.Send.Seq, r.sendState())
	}
	return nil
}

// ---- letters ----------------------------------------------------------------

func (r *peopleRun) validateSaveLetter(ctx workflow.Context, u SaveLetterUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	// Drafting is for the DPO and compliance staff; four-eyes is enforced at approval.
	if err := requireRole(u.Actor, breach.RoleDPO, breach.RoleApprover); err != nil {
		return err
	}
	if err := validLanguage(u.Language); err != nil {
		return err
	}
	if u.Fields.Language != u.Language {
		return reject(breach.ErrInvalid, "fields.language", "must be the letter's language %q", u.Language)
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
	if l := r.letter(u.Language); l != nil {
		current = l.Current.Version
	}
	if u.BaseVersion != current {
		return reject(breach.ErrConflict, "base_version", "stale version: base version %d, current version %d", u.BaseVersion, current)
	}
	return nil
}

func (r *peopleRun) saveLetter(ctx workflow.Context, u SaveLetterUpdate) (activities.LetterRef, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return activities.LetterRef{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateSaveLetter(ctx, u); err != nil { // state may have moved while waiting
		return activities.LetterRef{}, err
	}
	var a *activities.Activities
	var ref activities.LetterRef
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SaveLetter, activities.SaveLetterInput{
		OpKey:       updateOpKey(ctx),
		RunID:       runID(ctx),
		IncidentID:  r.params.IncidentID,
		Language:    u.Language,
		BaseVersion: u.BaseVersion,
		Actor:       u.Actor,
		Fields:      u.Fields,
	}).Get(ctx, &ref)
	if err != nil {
		return activities.LetterRef{}, err
	}
	if l := r.letter(u.Language); l != nil {
		l.Current, l.State = ref, breach.LetterPending
	} else {
		r.st.Letters = append(r.st.Letters, LetterStatus{Language: u.Language, Current: ref, State: breach.LetterPending})
		slices.SortFunc(r.st.Letters, func(a, b LetterStatus) int { return languageOrder(a.Language) - languageOrder(b.Language) })
	}
	return ref, nil
}

func languageOrder(l breach.Language) int {
	if l == breach.French {
		return 0
	}
	return 1
}

func (r *peopleRun) validateDecideLetter(ctx workflow.Context, u DecideLetterUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleApprover); err != nil {
		return err
	}
	if err := validLanguage(u.Language); err != nil {
		return err
	}
	l := r.letter(u.Language)
	if l == nil {
		return reject(breach.ErrNotFound, "language", "no letter in %q yet", u.Language)
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
		return reject(breach.ErrForbidden, "actor", "four-eyes: the author of the letter may not decide on it")
	}
	if u.Actor.UserID == l.Current.EditedBy {
		return reject(breach.ErrForbidden, "actor", "four-eyes: the last editor of this version may not decide on it")
	}
	if !u.Approve && blank(u.Comment) {
		return reject(breach.ErrInvalid, "comment", "a returned letter needs a comment saying what to change")
	}
	return nil
}

func (r *peopleRun) decideLetter(ctx workflow.Context, u DecideLetterUpdate) (LetterStatus, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return LetterStatus{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateDecideLetter(ctx, u); err != nil {
		return LetterStatus{}, err
	}
	l := r.letter(u.Language)
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.DecideLetter, activities.DecideLetterInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		LetterID:   l.Current.ID,
		Actor:      u.Actor,
		Approve:    u.Approve,
		Comment:    u.Comment,
	}).Get(ctx, nil)
	if err != nil {
		return LetterStatus{}, err
	}
	l = r.letter(u.Language)
	if u.Approve {
		l.State = breach.LetterApproved
	} else {
		l.State = breach.LetterReturned // a new version is needed before approval
	}
	return *l, nil
}

// approved lists the approved current letters.
func (r *peopleRun) approved() []breach.ApprovedLetter {
	var out []breach.ApprovedLetter
	for _, l := range r.st.Letters {
		if l.State == breach.LetterApproved {
			out = append(out, breach.ApprovedLetter{ID: l.Current.ID, Language: l.Language, Version: l.Current.Version, ContentHash: l.Current.ContentHash})
		}
	}
	return out
}

// ---- the send ------------------------------------------------------------

func (r *peopleRun) validateStartSend(ctx workflow.Context, u StartSendUpdate) error {
	if err := r.open(); err != nil {
		return err
	}
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if r.active() {
		return reject(breach.ErrConflict, "", "send %d is %s: resume or cancel it", r.st.Send.Seq, r.sendState())
	}
	if len(r.approved()) == 0 {
		return reject(breach.ErrConflict, "letters", "no letter is approved yet")
	}
	if u.Policy != "" && !u.Policy.Valid() {
		return reject(breach.ErrInvalid, "policy", "policy must be %q or %q", breach.PolicyResend, breach.PolicyHold)
	}
	return u.Options.withDefaults().validate()
}

func (r *peopleRun) startSend(ctx workflow.Context, u StartSendUpdate) (SendStatus, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return SendStatus{}, err
	}
	defer r.mu.Unlock()
	if err := r.validateStartSend(ctx, u); err != nil {
		return SendStatus{}, err
	}
	opts := u.Options.withDefaults()
	policy := u.Policy
	if policy == "" {
		policy = breach.PolicyResend
	}
	var a *activities.Activities
	var facts breach.SendFacts
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SendFacts, activities.SendFactsInput{IncidentID: r.params.IncidentID}).Get(ctx, &facts)
	if err != nil {
		return SendStatus{}, err
	}
	letters, err := breach.CheckSendStart(facts, r.approved(), u.Reason)
	if err != nil {
		return SendStatus{}, domainFailure(err)
	}
	parts := min(int64(opts.Partitions), facts.People)
	var ref activities.SendRef
	err = workflow.ExecuteActivity(updateActivityCtx(ctx), a.StartSend, activities.StartSendInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		Actor:      u.Actor,
		Letters:    letters,
		Policy:     policy,
		Partitions: int(parts),
		Reason:     u.Reason,
	}).Get(ctx, &ref)
	if err != nil {
		return SendStatus{}, err
	}
	r.st.Sends = ref.Seq
	r.st.Send = &SendStatus{
		SendRef: ref,
		State:   breach.SendRunning,
		Options: opts,
		Ranges:  SplitRange(ref.MinPerson, ref.MaxPerson, ref.Partitions),
	}
	r.children = nil
	r.launch = true
	return *r.st.Send, nil
}

// domainFailure is a handler's failure for a broken rule found after
// validation (on facts read by an activity).
func domainFailure(err error) error {
	de := DomainError(err)
	if de == nil {
		return err
	}
	return reject(de.Code, de.Field, "%s", de.Message)
}

// SplitRange splits the person IDs from..to into n ranges of nearly equal
// size (fewer when there are fewer IDs), in order.
func SplitRange(from, to int64, n int) []PartitionRange {
	if to < from || n < 1 {
		return nil
	}
	count := to - from + 1
	if int64(n) > count {
		n = int(count)
	}
	out := make([]PartitionRange, 0, n)
	size, extra := count/int64(n), count%int64(n)
	lo := from
	for i := range n {
		hi := lo + size - 1
		if int64(i) < extra {
			hi++
		}
		out = append(out, PartitionRange{Partition: i, From: lo, To: hi})
		lo = hi + 1
	}
	return out
}

// startPartitions starts one DeliveryPartition child per range and follows
// their ends.
func (r *peopleRun) startPartitions(ctx workflow.Context) error {
	if err := r.mu.Lock(ctx); err != nil {
		return err
	}
	defer r.mu.Unlock()
	s := r.st.Send
	if s.State == breach.SendCancelled {
		return nil // cancelled before its partitions started
	}
	paused := s.State == breach.SendPaused
	r.children = make([]workflow.ChildWorkflowFuture, len(s.Ranges))
	for i, pr := range s.Ranges {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: breach.PartitionWorkflowID(r.params.IncidentID, s.Seq, pr.Partition),
		})
		r.children[i] = workflow.ExecuteChildWorkflow(cctx, DeliveryPartitionWorkflowName, PartitionParams{
			IncidentID: r.params.IncidentID,
			SendID:     s.ID,
			Seq:        s.Seq,
			Partition:  pr.Partition,
			Letters:    s.Letters,
			Policy:     s.Policy,
			From:       pr.From,
			To:         pr.To,
			Options:    s.Options,
			Paused:     paused,
		})
	}
	for i, c := range r.children {
		if err := c.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start partition %d: %w", s.Ranges[i].Partition, err)
		}
	}
	for i, c := range r.children {
		workflow.Go(ctx, func(ctx workflow.Context) {
			var res PartitionResult
			if err := c.Get(ctx, &res); err != nil {
				r.logger.Error("delivery partition ended with an error", "partition", s.Ranges[i].Partition, "error", err)
			}
			s.Totals.Add(res.Totals)
			s.Batches += res.Batches
			s.Runs += res.Runs
			s.Finished++
		})
	}
	return nil
}

// finishSend records the end of a send whose partitions all ended: completed,
// unless it was cancelled (already recorded).
func (r *peopleRun) finishSend(ctx workflow.Context) {
	r.ending = true
	defer func() { r.ending = false }()
	if err := r.mu.Lock(ctx); err != nil {
		return
	}
	defer r.mu.Unlock()
	s := r.st.Send
	if s.State != breach.SendRunning {
		return
	}
	var a *activities.Activities
	err := workflow.ExecuteActivity(alarmActivityCtx(ctx), a.SetSendState, activities.SendStateInput{
		OpKey:      workflow.GetInfo(ctx).WorkflowExecution.ID + fmt.Sprintf("/send/%d/completed", s.Seq),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		SendID:     s.ID,
		Actor:      breach.System,
		State:      breach.SendCompleted,
	}).Get(ctx, nil)
	if err != nil {
		r.logger.Error("recording the end of the send failed", "seq", s.Seq, "error", err)
	}
	s.State = breach.SendCompleted
}

// sendState names the send's state, "ending" for a cancelled send whose
// partitions have not all ended.
func (r *peopleRun) sendState() string {
	s := r.st.Send
	if !s.State.Active() && len(r.children) > 0 && s.Finished < len(s.Ranges) {
		return "ending"
	}
	return string(s.State)
}

func (r *peopleRun) requireSend(states ...breach.SendState) error {
	if r.st.Send == nil {
		return reject(breach.ErrConflict, "", "no send was started")
	}
	if !slices.Contains(states, r.st.Send.State) {
		return reject(breach.ErrConflict, "", "send %d is %s", r.st.Send.Seq, r.st.Send.State)
	}
	return nil
}

func (r *peopleRun) validatePauseSend(ctx workflow.Context, u SendControlUpdate) error {
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	return r.requireSend(breach.SendRunning)
}

func (r *peopleRun) validateResumeSend(ctx workflow.Context, u SendControlUpdate) error {
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	return r.requireSend(breach.SendPaused)
}

func (r *peopleRun) validateCancelSend(ctx workflow.Context, u SendControlUpdate) error {
	if err := requireRole(u.Actor, breach.RoleDPO); err != nil {
		return err
	}
	if blank(u.Reason) {
		return reject(breach.ErrInvalid, "reason", "cancelling a send needs a reason")
	}
	return r.requireSend(breach.SendRunning, breach.SendPaused)
}

func (r *peopleRun) pauseSend(ctx workflow.Context, u SendControlUpdate) (SendStatus, error) {
	return r.control(ctx, u, r.validatePauseSend, breach.SendPaused)
}

func (r *peopleRun) resumeSend(ctx workflow.Context, u SendControlUpdate) (SendStatus, error) {
	return r.control(ctx, u, r.validateResumeSend, breach.SendRunning)
}

func (r *peopleRun) cancelSend(ctx workflow.Context, u SendControlUpdate) (SendStatus, error) {
	return r.control(ctx, u, r.validateCancelSend, breach.SendCancelled)
}

// control records the send's new state (the batches read it between chunks)
// and signals it to the partitions.
func (r *peopleRun) control(ctx workflow.Context, u SendControlUpdate, validate func(workflow.Context, SendControlUpdate) error, to breach.SendState) (SendStatus, error) {
	if err := r.mu.Lock(ctx); err != nil {
		return SendStatus{}, err
	}
	defer r.mu.Unlock()
	if err := validate(ctx, u); err != nil {
		return SendStatus{}, err
	}
	s := r.st.Send
	var a *activities.Activities
	err := workflow.ExecuteActivity(updateActivityCtx(ctx), a.SetSendState, activities.SendStateInput{
		OpKey:      updateOpKey(ctx),
		RunID:      runID(ctx),
		IncidentID: r.params.IncidentID,
		SendID:     s.ID,
		Actor:      u.Actor,
		State:      to,
		Reason:     u.Reason,
	}).Get(ctx, nil)
	if err != nil {
		return SendStatus{}, err
	}
	s.State = to
	for i := range r.children {
		// Signal the partition's current run (empty run ID): a partition that
		// continued as new is no longer the run its child future names. One that
		// already ended cannot be signalled: nothing to tell it, and the batches
		// read the send's state from Postgres anyway.
		id := breach.PartitionWorkflowID(r.params.IncidentID, s.Seq, s.Ranges[i].Partition)
		if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalSendState, to).Get(ctx, nil); err != nil {
			r.logger.Info("signal to a delivery partition not delivered", "partition", s.Ranges[i].Partition, "error", err)
		}
	}
	return *s, nil
}

// view answers QueryState: IDs, versions, states and counts only.
func (r *peopleRun) view() PeopleView {
	v := PeopleView{IncidentID: r.params.IncidentID, Closed: r.closed, Letters: slices.Clone(r.st.Letters), Sends: r.st.Sends}
	if r.st.Send != nil {
		s := *r.st.Send
		v.Send = &s
	}
	return v
}

// deliveryActivityCtx runs the sending activities on the delivery task queue:
// retried without end (a relay that is down fails them until it is back),
// heartbeating, each batch within an hour.
func deliveryActivityCtx(ctx workflow.Context, o SendOptions) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           DeliveryTaskQueue(workflow.GetInfo(ctx).TaskQueueName),
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    o.HeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
}
