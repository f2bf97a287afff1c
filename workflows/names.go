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
