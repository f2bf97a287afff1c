package activities

import (
	"context"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// Inputs and results of the monitoring track's activities (monitoring.go).
// IDs, rounds, dates and counts only.

// ReminderInput is what one reminder is rendered from (templates.ReminderInput).
type ReminderInput struct {
	Incident  breach.Incident
	Fields    breach.ReminderFields
	Version   int
	Recipient breach.Recipient
}

// ReminderRenderer renders reminders (templates.Reminders, through the
// engine's adapter).
type ReminderRenderer interface {
	RenderReminder(ctx context.Context, in ReminderInput) (RenderedLetter, error)
	// ContentHash is templates.ReminderContentHash: "" when the fields
	// cannot be rendered.
	ContentHash(incident breach.Incident, fields breach.ReminderFields, version int) string
}

// ReportRenderer renders a monitoring report (templates.Reports).
type ReportRenderer interface {
	RenderReport(ctx context.Context, s breach.ReportSummary) (subject string, html []byte, err error)
}

// ComplementaryOpener opens a complementary filing draft (GDPR Art. 33(4))
// on the incident's GDPR regime workflow, through the same validated update
// a person uses (UpdateSaveDraft), under a stable update ID so that a retry
// opens it once. It returns the draft's seq, or a *breach.Error when the
// regime refuses (no initial filing yet, incident closed).
type ComplementaryOpener interface {
	OpenComplementary(ctx context.Context, incidentID, updateID string, fields breach.DraftFields) (int, error)
}

// SaveReminderInput stores a new version of the reminder in one language.
type SaveReminderInput struct {
	OpKey       string                `json:"op_key"`
	RunID       string                `json:"run_id"`
	IncidentID  string                `json:"incident_id"`
	Language    breach.Language       `json:"language"`
	BaseVersion int                   `json:"base_version"`
	Actor       breach.Actor          `json:"actor"`
	Fields      breach.ReminderFields `json:"fields"`
}

// StartReminderInput starts a reminder round.
type StartReminderInput struct {
	OpKey      string               `json:"op_key"`
	RunID      string               `json:"run_id"`
	IncidentID string               `json:"incident_id"`
	Round      int                  `json:"round"`
	Partitions int                  `json:"partitions"`
	Policy     breach.UnknownPolicy `json:"policy"`
}

// ReminderRef is what a workflow keeps of a reminder round: its send (none
// when nobody's reset was pending) and the number of people.
type ReminderRef struct {
	Send   *SendRef `json:"send,omitempty"`
	People int64    `json:"people"`
}

// EvaluateSignalsInput asks which windows crossed their thresholds.
type EvaluateSignalsInput struct {
	IncidentID string                                 `json:"incident_id"`
	Start      time.Time                              `json:"start"`
	Thresholds map[breach.SignalKind]breach.Threshold `json:"thresholds"`
}

// AlertInput raises one alert: a threshold crossing, or a reminder round
// due without an approved reminder letter.
type AlertInput struct {
	OpKey      string           `json:"op_key"`
	RunID      string           `json:"run_id"`
	IncidentID string           `json:"incident_id"`
	Kind       string           `json:"kind"` // breach.AlertThreshold, breach.AlertReminderLetterMissing
	Crossing   *breach.Crossing `json:"crossing,omitempty"`
	Round      int              `json:"round,omitempty"`
	Reason     string           `json:"reason,omitempty"` // why the round could not start (names languages, counts)
}

// AlertRef is what a workflow keeps of an alert.
type AlertRef struct {
	ID       string `json:"id"`
	Mailed   bool   `json:"mailed"`
	DraftSeq *int   `json:"draft_seq,omitempty"`
}

// ReportInput writes one report for the period From..To of the monitoring
// period Start..End.
type ReportInput struct {
	OpKey      string    `json:"op_key"`
	IncidentID string    `json:"incident_id"`
	Seq        int       `json:"seq"`
	Final      bool      `json:"final"`
	EndedEarly bool      `json:"ended_early,omitempty"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

// ReportRef is what a workflow keeps of a report.
type ReportRef struct {
	ID          string `json:"id"`
	Seq         int    `json:"seq"`
	Final       bool   `json:"final"`
	ContentHash string `json:"content_hash"`
	Mailed      bool   `json:"mailed"`
}
