// Package workflows holds the deterministic workflow code of the engine.
// Registered names below are part of the persisted histories: never rename them.
package workflows

import (
	"time"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// TaskQueue is the task queue the breach workers poll.
const TaskQueue = "breach"

// Workflow names.
const (
	IncidentWorkflowName = "Incident"
	RegimeWorkflowName   = "Regime"
)

// Update, signal and query names.
const (
	// On the Incident workflow.
	UpdateAssess        = "assess"
	UpdateChangeAwareAt = "change_aware_at"
	UpdateClose         = "close"
	// On a Regime workflow.
	UpdateSaveDraft    = "save_draft"
	UpdateDecideDraft  = "decide_draft"
	UpdateRecordFiling = "record_filing"
	// Parent to child. Payloads: SignalAwareAtChanged a time.Time (the new
	// aware_at), SignalNotificationNeeded a bool, SignalClose none.
	SignalAwareAtChanged     = "aware_at_changed"
	SignalNotificationNeeded = "notification_needed"
	SignalClose              = "close"
	// Child to parent: a stage was filed for the first time (payload StageFiled),
	// so that the incident's view anchors later deadlines on it.
	SignalStageFiled = "stage_filed"
	// Credentials to its parent: the forced password reset started (payload
	// ResetStarted), so the incident starts the follow-up monitoring, which
	// counts its period, reminders and reports from that moment.
	SignalResetStarted = "reset_started"
	// Read-only views for the API.
	QueryState = "state" // Incident: IncidentView; Regime: RegimeView
)

// IncidentParams start an Incident workflow. IDs and dates only: no personal data.
type IncidentParams struct {
	IncidentID      string              `json:"incident_id"`
	DetectedAt      time.Time           `json:"detected_at"`
	AwareAt         time.Time           `json:"aware_at"`
	Regimes         []breach.RegimeCode `json:"regimes"` // gdpr always included
	ReminderOffsets []time.Duration     `json:"reminder_offsets"`
	// RetentionAfterClose is how long after the closure the contact data of
	// the incident's people is purged (GDPR Art. 5(1)(e)); 0 means
	// breach.DefaultRetentionAfterClose.
	RetentionAfterClose time.Duration `json:"retention_after_close,omitempty"`
	// MonitoringPeriod is the length of the follow-up monitoring started
	// with the password reset; 0 means DefaultMonitoringPeriod.
	MonitoringPeriod time.Duration `json:"monitoring_period,omitempty"`
}

// ResetStarted is the payload of SignalResetStarted.
type ResetStarted struct {
	StartedAt time.Time `json:"started_at"`
}

// RegimeParams start a Regime child workflow.
type RegimeParams struct {
	IncidentID      string            `json:"incident_id"`
	Regime          breach.RegimeCode `json:"regime"`
	AwareAt         time.Time         `json:"aware_at"`
	ReminderOffsets []time.Duration   `json:"reminder_offsets"`
	// State is carried over continue-as-new; nil on the first run.
	State *RegimeState `json:"state,omitempty"`
}

// StageFiled is the payload of SignalStageFiled.
type StageFiled struct {
	Regime  breach.RegimeCode `json:"regime"`
	Stage   breach.StageCode  `json:"stage"`
	FiledAt time.Time         `json:"filed_at"`
}

// RegimeState is what a Regime workflow keeps: IDs, dates and enums only.
type RegimeState struct {
	AwareAt time.Time `json:"aware_at"`
	// NotificationNeeded is false once the DPO decided there is no risk (GDPR
	// Art. 33(1)): reminders and escalations stop, the incident is only registered.
	NotificationNeeded bool          `json:"notification_needed"`
	Drafts             []DraftStatus `json:"drafts"`
	// Filed is the first filing time of each stage: the anchor of later deadlines.
	Filed map[breach.StageCode]time.Time `json:"filed"`
	// Alarms are the deadline alarms already armed, by operation key: AlarmArmed
	// (its timer runs), AlarmFired or AlarmSkipped (already past when armed).
	Alarms map[string]string `json:"alarms"`
	// Escalated is the due time of the last escalation recorded per stage: a
	// deadline moved while already overdue does not escalate twice.
	Escalated map[breach.StageCode]time.Time `json:"escalated,omitempty"`
}

// Alarm states in RegimeState.Alarms.
const (
	AlarmArmed   = "armed"
	AlarmFired   = "fired"
	AlarmSkipped = "skipped"
)

// DraftStatus is where one draft (a stage and seq) stands: its current version
// and what was decided about it. Non-repeatable stages have Seq 1.
type DraftStatus struct {
	Key      breach.DraftKey     `json:"key"`
	Current  activities.DraftRef `json:"current"`
	State    breach.DraftState   `json:"state"` // pending, approved, returned, filed
	FilingID string              `json:"filing_id,omitempty"`
	FiledAt  *time.Time          `json:"filed_at,omitempty"`
	Late     bool                `json:"late,omitempty"`
}

// FilingResult is what UpdateRecordFiling returns.
type FilingResult struct {
	FilingID string     `json:"filing_id"`
	DueAt    *time.Time `json:"due_at,omitempty"`
	Late     bool       `json:"late"`
}

// AlarmView is the next deadline alarm a Regime workflow waits for.
type AlarmView struct {
	Stage  breach.StageCode     `json:"stage"`
	Kind   activities.AlarmKind `json:"kind"`
	Before time.Duration        `json:"before"`
	DueAt  time.Time            `json:"due_at"`
	At     time.Time            `json:"at"`
}

// RegimeView answers QueryState on a Regime workflow.
type RegimeView struct {
	IncidentID         string            `json:"incident_id"`
	Regime             breach.RegimeCode `json:"regime"`
	AwareAt            time.Time         `json:"aware_at"`
	NotificationNeeded bool              `json:"notification_needed"`
	Closed             bool              `json:"closed"`
	Deadlines          []breach.Deadline `json:"deadlines"`
	Drafts             []DraftStatus     `json:"drafts"`
	NextAlarm          *AlarmView        `json:"next_alarm,omitempty"`
}

// RegimeRef names the child workflow of one regime; query it for its deadlines.
type RegimeRef struct {
	Regime     breach.RegimeCode `json:"regime"`
	WorkflowID string            `json:"workflow_id"`
}

// IncidentView answers QueryState on an Incident workflow. Deadlines cover
// every regime, anchored on aware_at and on the first filing of each stage as
// the children report them; each child's own QueryState has its drafts.
type IncidentView struct {
	IncidentID string                   `json:"incident_id"`
	DetectedAt time.Time                `json:"detected_at"`
	AwareAt    time.Time                `json:"aware_at"`
	Assessment *activities.AssessResult `json:"assessment,omitempty"`
	Closed     bool                     `json:"closed"`
	Regimes    []RegimeRef              `json:"regimes"`
	Deadlines  []breach.Deadline        `json:"deadlines"`
	// PeopleWorkflowID is the people track's workflow (letters, the send);
	// empty for incidents opened before it existed.
	PeopleWorkflowID string `json:"people_workflow_id,omitempty"`
	// PurgeAt is when the contact data of the incident's people will be (or
	// was) destroyed: set at closure, closed_at + RetentionAfterClose. Nil
	// while open, and for incidents closed before the purge existed.
	PurgeAt *time.Time `json:"purge_at,omitempty"`
	// Purged says what the purge did, once it ran.
	Purged *activities.PurgeResult `json:"purged,omitempty"`
	// CredentialsWorkflowID is the credential track's workflow (the forced
	// password reset); empty for incidents opened before it existed.
	CredentialsWorkflowID string `json:"credentials_workflow_id,omitempty"`
}

// AssessUpdate confirms (Risk nil) or overrides the proposed risk; Reason is mandatory.
type AssessUpdate struct {
	Actor     breach.Actor      `json:"actor"`
	Risk      *breach.Risk      `json:"risk,omitempty"`
	Exemption *breach.Exemption `json:"exemption,omitempty"`
	Reason    string            `json:"reason"`
}

// ChangeAwareAtUpdate moves the awareness time; Reason is mandatory.
type ChangeAwareAtUpdate struct {
	Actor   breach.Actor `json:"actor"`
	AwareAt time.Time    `json:"aware_at"`
	Reason  string       `json:"reason"`
}

// CloseUpdate closes the incident.
type CloseUpdate struct {
	Actor   breach.Actor `json:"actor"`
	Summary string       `json:"summary"`
}

// SaveDraftUpdate writes a new draft (BaseVersion 0) or a new version of the
// current one. Seq 0 on a repeatable stage opens the next complementary filing.
type SaveDraftUpdate struct {
	Actor       breach.Actor       `json:"actor"`
	Stage       breach.StageCode   `json:"stage"`
	Seq         int                `json:"seq"`
	BaseVersion int                `json:"base_version"`
	Fields      breach.DraftFields `json:"fields"`
}

// DecideDraftUpdate approves or returns one version of a draft.
type DecideDraftUpdate struct {
	Actor   breach.Actor     `json:"actor"`
	Stage   breach.StageCode `json:"stage"`
	Seq     int              `json:"seq"`
	Version int              `json:"version"`
	Approve bool             `json:"approve"`
	Comment string           `json:"comment"`
}

// RecordFilingUpdate records a filing of the approved version.
type RecordFilingUpdate struct {
	Actor        breach.Actor     `json:"actor"`
	Stage        breach.StageCode `json:"stage"`
	Seq          int              `json:"seq"`
	FiledAt      time.Time        `json:"filed_at"`
	Channel      string           `json:"channel"`
	Reference    string           `json:"reference"`
	DelayReasons string           `json:"delay_reasons,omitempty"`
}

// The people track (people.go, partition.go): names persisted in histories.
const (
	PeopleWorkflowName            = "People"
	DeliveryPartitionWorkflowName = "DeliveryPartition"

	// On the People workflow.
	UpdateSaveLetter   = "save_letter"
	UpdateDecideLetter = "decide_letter"
	UpdateStartSend    = "start_send"
	UpdatePauseSend    = "pause_send"
	UpdateResumeSend   = "resume_send"
	UpdateCancelSend   = "cancel_send"
	// People to its DeliveryPartition children: the send's new state
	// (payload breach.SendState). The incident tells People to end with
	// SignalClose.
	SignalSendState = "send_state"
)

// DeliveryTaskQueue is the task queue of the sending activities of the
// workers polling taskQueue: a worker polls it with its own limits (the
// number of batches at once, batches per second), apart from the incident
// workflows' activities.
func DeliveryTaskQueue(taskQueue string) string { return taskQueue + "-delivery" }

// PeopleParams start a People workflow. State is carried over continue-as-new.
type PeopleParams struct {
	IncidentID string       `json:"incident_id"`
	State      *PeopleState `json:"state,omitempty"`
}

// PeopleState is what a People workflow keeps: IDs, versions, states, counts.
type PeopleState struct {
	Letters []LetterStatus `json:"letters"` // one per language, fr first
	Sends   int            `json:"sends"`   // sends started
	Send    *SendStatus    `json:"send,omitempty"`
}

// LetterStatus is where the letter in one language stands: its current
// version and what was decided about it.
type LetterStatus struct {
	Language breach.Language      `json:"language"`
	Current  activities.LetterRef `json:"current"`
	State    breach.LetterState   `json:"state"` // pending, approved, returned
}

// SendOptions tune a send; zero values take the defaults (DefaultSendOptions).
type SendOptions struct {
	// Partitions is the number of DeliveryPartition children, each sending
	// its range of people over one connection at a time.
	Partitions int `json:"partitions,omitempty"`
	// BatchSize is the number of people per SendBatch activity.
	BatchSize int `json:"batch_size,omitempty"`
	// BatchesPerRun is the number of batches a partition runs before it
	// continues as new (keeps each history small).
	BatchesPerRun int `json:"batches_per_run,omitempty"`
	// Lease is how long a claimed row may stay in sending; past it, the row
	// is unknown. HeartbeatTimeout detects a dead batch; it must be well
	// under the lease so that a batch cut off from Temporal stops before its
	// lease ends.
	Lease            time.Duration `json:"lease,omitempty"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
	// Chunk is the number of rows claimed at once within a batch.
	Chunk int `json:"chunk,omitempty"`
	// RetryBase is the wait after a first temporary refusal (4xx), doubled
	// at each attempt; MaxAttempts ends in failed.
	RetryBase   time.Duration `json:"retry_base,omitempty"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
}

// SendStatus is where a send stands in the People workflow.
type SendStatus struct {
	activities.SendRef
	State    breach.SendState `json:"state"`
	Options  SendOptions      `json:"options"`
	Ranges   []PartitionRange `json:"ranges"`
	Finished int              `json:"finished"` // partitions ended
	// Totals sum what the partitions that ended did, in how many batches
	// and runs (a partition continues as new every BatchesPerRun batches).
	Totals  activities.SendBatchResult `json:"totals"`
	Batches int                        `json:"batches"`
	Runs    int                        `json:"runs"`
}

// PartitionRange is the range of person IDs one partition sends to.
type PartitionRange struct {
	Partition int   `json:"partition"`
	From      int64 `json:"from"`
	To        int64 `json:"to"`
}

// SaveLetterUpdate writes the first version of the letter in a language
// (BaseVersion 0) or a new version of the current one.
type SaveLetterUpdate struct {
	Actor       breach.Actor        `json:"actor"`
	Language    breach.Language     `json:"language"`
	BaseVersion int                 `json:"base_version"`
	Fields      breach.LetterFields `json:"fields"`
}

// DecideLetterUpdate approves or returns one version of a letter.
type DecideLetterUpdate struct {
	Actor    breach.Actor    `json:"actor"`
	Language breach.Language `json:"language"`
	Version  int             `json:"version"`
	Approve  bool            `json:"approve"`
	Comment  string          `json:"comment"`
}

// StartSendUpdate starts sending the approved letters. Reason is required
// unless the decided risk is high (Art. 34(1)); Policy defaults to resend.
type StartSendUpdate struct {
	Actor   breach.Actor         `json:"actor"`
	Reason  string               `json:"reason,omitempty"`
	Policy  breach.UnknownPolicy `json:"policy,omitempty"`
	Options SendOptions          `json:"options,omitempty"`
}

// SendControlUpdate pauses, resumes or cancels the send; Reason is required
// to cancel.
type SendControlUpdate struct {
	Actor  breach.Actor `json:"actor"`
	Reason string       `json:"reason,omitempty"`
}

// PeopleView answers QueryState on a People workflow.
type PeopleView struct {
	IncidentID string         `json:"incident_id"`
	Closed     bool           `json:"closed"`
	Letters    []LetterStatus `json:"letters"`
	Sends      int            `json:"sends"`
	Send       *SendStatus    `json:"send,omitempty"`
}

// PartitionParams start a DeliveryPartition workflow; the fields after
// Options are its progress, carried over continue-as-new.
type PartitionParams struct {
	IncidentID string                  `json:"incident_id"`
	SendID     string                  `json:"send_id"`
	Seq        int                     `json:"seq"`
	Partition  int                     `json:"partition"`
	Letters    []breach.ApprovedLetter `json:"letters"`
	Policy     breach.UnknownPolicy    `json:"policy"`
	From       int64                   `json:"from"`
	To         int64                   `json:"to"`
	Options    SendOptions             `json:"options"`

	// Round is 0 for the notice; a reminder round (1, 2...) of the
	// monitoring track seeds only the people whose reset was pending when
	// its send started, and keys its ledger rows by round.
	Round int `json:"round,omitempty"`

	Seeded    bool                       `json:"seeded,omitempty"`
	Cursor    int64                      `json:"cursor,omitempty"` // 0: From
	Pass      int                        `json:"pass,omitempty"`
	SweepNext bool                       `json:"sweep_next,omitempty"`
	Paused    bool                       `json:"paused,omitempty"`
	Runs      int                        `json:"runs,omitempty"`
	Batches   int                        `json:"batches,omitempty"`
	Totals    activities.SendBatchResult `json:"totals"`
}

// PartitionResult is what a DeliveryPartition returns.
type PartitionResult struct {
	Partition int                        `json:"partition"`
	Cancelled bool                       `json:"cancelled,omitempty"`
	Passes    int                        `json:"passes"`
	Batches   int                        `json:"batches"`
	Runs      int                        `json:"runs"`
	Totals    activities.SendBatchResult `json:"totals"`
}

// The follow-up monitoring (monitoring.go): names persisted in histories.
const (
	MonitoringWorkflowName = "Monitoring"

	// On the Monitoring workflow: the reminder letter, drafted and decided
	// under four-eyes like the notice (payloads SaveReminderUpdate,
	// DecideLetterUpdate).
	UpdateSaveReminder   = "save_reminder"
	UpdateDecideReminder = "decide_reminder"
	// SignalAbuse tells the workflow that abuse signals were stored (payload
	// AbuseSignalBatch: IDs and counts only). The incident ends it early
	// with SignalClose.
	SignalAbuse = "abuse_signals"
)

// The credential track (credentials.go, reset_partition.go): names persisted
// in histories.
const (
	CredentialsWorkflowName    = "Credentials"
	ResetPartitionWorkflowName = "ResetPartition"

	// On the Credentials workflow (DPO only).
	UpdateStartReset  = "start_reset"
	UpdatePauseReset  = "pause_reset"
	UpdateResumeReset = "resume_reset"
	// Credentials to its ResetPartition children: stop now (the track was
	// paused; no payload). The incident ends the track with SignalClose.
	SignalResetStop = "reset_stop"
)
