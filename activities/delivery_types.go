package activities

import (
	"context"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// Inputs and results of the people track's activities (letters.go,
// delivery.go). IDs, versions, ranges and counts only: contact data never
// crosses the workflow boundary.

// SaveLetterInput stores a new version of the letter in one language.
type SaveLetterInput struct {
	OpKey       string              `json:"op_key"`
	RunID       string              `json:"run_id"`
	IncidentID  string              `json:"incident_id"`
	Language    breach.Language     `json:"language"`
	BaseVersion int                 `json:"base_version"` // 0 for the first version
	Actor       breach.Actor        `json:"actor"`
	Fields      breach.LetterFields `json:"fields"`
}

// LetterRef is what a workflow keeps of a letter version: IDs and hash, no text.
type LetterRef struct {
	ID          string          `json:"id"`
	Language    breach.Language `json:"language"`
	Version     int             `json:"version"`
	DraftedBy   string          `json:"drafted_by"`
	EditedBy    string          `json:"edited_by"`
	ContentHash string          `json:"content_hash"`
}

// DecideLetterInput approves or returns a letter version.
type DecideLetterInput struct {
	OpKey      string       `json:"op_key"`
	RunID      string       `json:"run_id"`
	IncidentID string       `json:"incident_id"`
	LetterID   string       `json:"letter_id"`
	Actor      breach.Actor `json:"actor"`
	Approve    bool         `json:"approve"`
	Comment    string       `json:"comment"`
}

// SendFactsInput asks what starting a send is decided on.
type SendFactsInput struct {
	IncidentID string `json:"incident_id"`
}

// StartSendInput starts a send of the approved letters.
type StartSendInput struct {
	OpKey      string                  `json:"op_key"`
	RunID      string                  `json:"run_id"`
	IncidentID string                  `json:"incident_id"`
	Actor      breach.Actor            `json:"actor"`
	Letters    []breach.ApprovedLetter `json:"letters"`
	Policy     breach.UnknownPolicy    `json:"policy"`
	Partitions int                     `json:"partitions"`
	Reason     string                  `json:"reason"`
}

// SendRef is what a workflow keeps of a send.
type SendRef struct {
	ID         string                  `json:"id"`
	Seq        int                     `json:"seq"`
	People     int64                   `json:"people"`
	MinPerson  int64                   `json:"min_person"`
	MaxPerson  int64                   `json:"max_person"`
	Letters    []breach.ApprovedLetter `json:"letters"` // the ones sent: one per language present
	Policy     breach.UnknownPolicy    `json:"policy"`
	Partitions int                     `json:"partitions"`
}

// SendStateInput pauses, resumes, cancels or completes a send.
type SendStateInput struct {
	OpKey      string           `json:"op_key"`
	RunID      string           `json:"run_id"`
	IncidentID string           `json:"incident_id"`
	SendID     string           `json:"send_id"`
	Actor      breach.Actor     `json:"actor"`
	State      breach.SendState `json:"state"`
	Reason     string           `json:"reason,omitempty"`
}

// SeedInput makes the ledger rows of one partition's range.
type SeedInput struct {
	OpKey      string                  `json:"op_key"` // per partition; chunks add their range
	IncidentID string                  `json:"incident_id"`
	SendID     string                  `json:"send_id"`
	Partition  int                     `json:"partition"`
	Letters    []breach.ApprovedLetter `json:"letters"`
	From       int64                   `json:"from"`
	To         int64                   `json:"to"`
	// Round is 0 for the notice; a reminder round (1, 2...) seeds only the
	// people whose reset was not completed when its send started.
	Round int `json:"round,omitempty"`
}

// SendBatchInput sends one batch of a partition: up to Limit people from
// Cursor on, within From..To.
type SendBatchInput struct {
	IncidentID string               `json:"incident_id"`
	SendID     string               `json:"send_id"`
	Partition  int                  `json:"partition"`
	Letters    []string             `json:"letters"` // letter version IDs of the send
	Policy     breach.UnknownPolicy `json:"policy"`
	From       int64                `json:"from"`
	To         int64                `json:"to"`
	Cursor     int64                `json:"cursor"`
	Limit      int                  `json:"limit"`
	Round      int                  `json:"round,omitempty"` // 0 the notice, 1, 2... the reminders
	// Sweep first turns rows of From..To left in sending past their lease
	// into unknown (the first batch of each pass over the range).
	Sweep bool `json:"sweep,omitempty"`
	// Tuning; zero values take the defaults below.
	Lease       time.Duration `json:"lease,omitempty"`
	Chunk       int           `json:"chunk,omitempty"`
	RetryBase   time.Duration `json:"retry_base,omitempty"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
}

// Defaults of SendBatchInput.
const (
	DefaultLease       = time.Minute
	DefaultChunk       = 250
	DefaultRetryBase   = 30 * time.Second
	DefaultMaxAttempts = 8
	maxRetryDelay      = 15 * time.Minute
)

// SendBatchResult is what one batch did.
type SendBatchResult struct {
	Next     int64 `json:"next"` // the cursor for the next batch; > To at the end of the range
	Claimed  int   `json:"claimed"`
	Sent     int   `json:"sent"`
	Failed   int   `json:"failed"`
	Deferred int   `json:"deferred"` // temporary refusals, retried later
	Unknown  int   `json:"unknown"`  // swept, or the connection broke after the message went out
	Released int   `json:"released"` // claimed but not sent: pending again
	// Stopped is the send's state when the batch stopped because the send is
	// no longer running (paused, cancelled).
	Stopped breach.SendState `json:"stopped,omitempty"`
	// At the end of the range: rows still open and when the earliest can be
	// worked on.
	Open   int64      `json:"open"`
	WakeAt *time.Time `json:"wake_at,omitempty"`
}

// Add sums another batch's counts (for a partition's totals).
func (r *SendBatchResult) Add(o SendBatchResult) {
	r.Claimed += o.Claimed
	r.Sent += o.Sent
	r.Failed += o.Failed
	r.Deferred += o.Deferred
	r.Unknown += o.Unknown
	r.Released += o.Released
}

// LetterInput is what one letter is rendered from (templates.LetterInput).
type LetterInput struct {
	Incident  breach.Incident
	Fields    breach.LetterFields
	Version   int
	Recipient breach.Recipient
}

// RenderedLetter is one rendered letter (templates.RenderedLetter).
type RenderedLetter struct {
	Subject string
	HTML    []byte
	Text    []byte
}

// LetterRenderer renders the letters to the people (templates.Letters,
// through the engine's adapter: the templates package depends on this one).
// The same input renders the same bytes.
type LetterRenderer interface {
	RenderLetter(ctx context.Context, in LetterInput) (RenderedLetter, error)
	// ContentHash is templates.LetterContentHash: "" when the fields cannot
	// be rendered.
	ContentHash(incident breach.Incident, fields breach.LetterFields, version int) string
}
