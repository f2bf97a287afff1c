// Package workflows holds the deterministic workflow code of the engine.
// Registered names below are part of the persisted histories: never rename them.
package workflows

import (
	"time"

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
	// Parent to child.
	SignalAwareAtChanged     = "aware_at_changed"
	SignalNotificationNeeded = "notification_needed"
	SignalClose              = "close"
	// Read-only views for the API.
	QueryState = "state"
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
