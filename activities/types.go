package activities

import (
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// Every input carries OpKey, unique per workflow decision (the workflow ID and
// the update ID, or the timer's key). Activities run at least once; the store
// records OpKey in the same transaction as the change, so a retry finds the
// change already made and returns its result instead of making it twice.

// AssessInput records the DPO's decision on the engine's proposal.
type AssessInput struct {
	OpKey      string            `json:"op_key"`
	RunID      string            `json:"run_id"`
	IncidentID string            `json:"incident_id"`
	Actor      breach.Actor      `json:"actor"`
	Risk       *breach.Risk      `json:"risk,omitempty"` // nil: confirm the proposal
	Exemption  *breach.Exemption `json:"exemption,omitempty"`
	Reason     string            `json:"reason"`
}

// AssessResult is what was proposed and decided.
type AssessResult struct {
	AssessmentID   string      `json:"assessment_id"`
	Proposed       breach.Risk `json:"proposed"`
	Decided        breach.Risk `json:"decided"`
	NotifySA       bool        `json:"notify_sa"`
	NotifySubjects bool        `json:"notify_subjects"`
}

// ChangeAwareAtInput moves the Art. 33 clock's start, with a justification.
type ChangeAwareAtInput struct {
	OpKey      string       `json:"op_key"`
	RunID      string       `json:"run_id"`
	IncidentID string       `json:"incident_id"`
	Actor      breach.Actor `json:"actor"`
	AwareAt    time.Time    `json:"aware_at"`
	Reason     string       `json:"reason"`
}

// SaveDraftInput stores a new version of a draft, rendered from the incident.
type SaveDraftInput struct {
	OpKey       string             `json:"op_key"`
	RunID       string             `json:"run_id"`
	IncidentID  string             `json:"incident_id"`
	Key         breach.DraftKey    `json:"key"`
	BaseVersion int                `json:"base_version"` // 0 for a new draft
	DraftedBy   string             `json:"drafted_by"`   // who wrote version 1
	Actor       breach.Actor       `json:"actor"`        // who writes this version
	Fields      breach.DraftFields `json:"fields"`
}

// DraftRef is what a workflow keeps of a draft version: IDs and flags, no text.
type DraftRef struct {
	ID              string          `json:"id"`
	Key             breach.DraftKey `json:"key"`
	Version         int             `json:"version"`
	DraftedBy       string          `json:"drafted_by"`
	EditedBy        string          `json:"edited_by"`
	ContentHash     string          `json:"content_hash"`
	HasDelayReasons bool            `json:"has_delay_reasons"`
}

// DecideDraftInput approves or returns a draft version.
type DecideDraftInput struct {
	OpKey      string       `json:"op_key"`
	RunID      string       `json:"run_id"`
	IncidentID string       `json:"incident_id"`
	DraftID    string       `json:"draft_id"`
	Actor      breach.Actor `json:"actor"`
	Approve    bool         `json:"approve"` // false: send back
	Comment    string       `json:"comment"`
}

// FilingInput records that an approved version was filed with the authority.
type FilingInput struct {
	OpKey        string          `json:"op_key"`
	RunID        string          `json:"run_id"`
	IncidentID   string          `json:"incident_id"`
	Key          breach.DraftKey `json:"key"`
	DraftID      string          `json:"draft_id"`
	Actor        breach.Actor    `json:"actor"`
	FiledAt      time.Time       `json:"filed_at"`
	Channel      string          `json:"channel"`
	Reference    string          `json:"reference"`
	DueAt        *time.Time      `json:"due_at,omitempty"`
	Late         bool            `json:"late"`
	DelayReasons string          `json:"delay_reasons,omitempty"`
}

// AlarmKind is what a deadline timer did.
type AlarmKind string

const (
	AlarmReminder   AlarmKind = "reminder"   // before the deadline
	AlarmEscalation AlarmKind = "escalation" // the deadline passed unfiled
)

// AlarmInput records a reminder or an escalation.
type AlarmInput struct {
	OpKey      string            `json:"op_key"`
	RunID      string            `json:"run_id"`
	IncidentID string            `json:"incident_id"`
	Regime     breach.RegimeCode `json:"regime"`
	Stage      breach.StageCode  `json:"stage"`
	Kind       AlarmKind         `json:"kind"`
	Before     time.Duration     `json:"before"` // reminder offset; 0 for escalation
	DueAt      time.Time         `json:"due_at"`
}

// CloseInput closes an incident with a summary. RetentionAfterClose, when
// set, schedules the purge of its people's contact data that long after the
// closure (GDPR Art. 5(1)(e)); 0 schedules none (workflows that predate it).
type CloseInput struct {
	OpKey               string        `json:"op_key"`
	RunID               string        `json:"run_id"`
	IncidentID          string        `json:"incident_id"`
	Actor               breach.Actor  `json:"actor"`
	Summary             string        `json:"summary"`
	RetentionAfterClose time.Duration `json:"retention_after_close,omitempty"`
}

// CloseResult is when the incident was closed and when its purge is due (nil:
// none scheduled).
type CloseResult struct {
	State      breach.IncidentState `json:"state"`
	ClosedAt   *time.Time           `json:"closed_at"`
	PurgeAfter *time.Time           `json:"purge_after,omitempty"`
}

// PurgeInput purges the contact data of a closed incident's people.
type PurgeInput struct {
	OpKey      string `json:"op_key"`
	RunID      string `json:"run_id"`
	IncidentID string `json:"incident_id"`
}

// PurgeResult counts what the purge did (store.PurgeResult): counts and
// dates only.
type PurgeResult struct {
	People     int64     `json:"people"`
	Purged     int64     `json:"purged"`
	Shredded   int64     `json:"shredded"`
	RingSealed int64     `json:"ring_sealed"`
	Key        string    `json:"key"`
	PurgedAt   time.Time `json:"purged_at"`
	Already    bool      `json:"already,omitempty"`
}

// RejectionInput audits an update refused for lack of role or by a rule.
type RejectionInput struct {
	IncidentID string       `json:"incident_id"`
	Actor      breach.Actor `json:"actor"`
	Action     string       `json:"action"`
	Reason     string       `json:"reason"`
}
