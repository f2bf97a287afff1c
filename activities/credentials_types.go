package activities

import (
	"encoding/json"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
)

// Inputs and results of the credential track's activities (credentials.go).
// IDs, ranges, counts and the connector's configuration (which holds no
// secret, only references): account IDs never cross the workflow boundary.

// CheckConnectorInput checks a connector configuration against the live
// provider; Config nil checks the incident's stored one.
type CheckConnectorInput struct {
	IncidentID string      `json:"incident_id"`
	Config     *idp.Config `json:"config,omitempty"`
}

// StartResetInput records the start of an incident's reset.
type StartResetInput struct {
	OpKey      string          `json:"op_key"`
	RunID      string          `json:"run_id"`
	IncidentID string          `json:"incident_id"`
	Actor      breach.Actor    `json:"actor"`
	Config     idp.Config      `json:"config"`
	Options    json.RawMessage `json:"options,omitempty"`
}

// ResetRef is what a workflow keeps of a started track.
type ResetRef struct {
	StartedAt time.Time `json:"started_at"`
	Round     int       `json:"round"`
	Accounts  int64     `json:"accounts"`
	MinPerson int64     `json:"min_person"`
	MaxPerson int64     `json:"max_person"`
}

// ResetStateInput moves the incident's track (pause, resume with perhaps a
// new configuration, reset done, ended).
type ResetStateInput struct {
	OpKey      string            `json:"op_key"`
	RunID      string            `json:"run_id"`
	IncidentID string            `json:"incident_id"`
	Actor      breach.Actor      `json:"actor"`
	State      breach.TrackState `json:"state"`
	Reason     string            `json:"reason,omitempty"`
	Config     *idp.Config       `json:"config,omitempty"`
}

// CreateResetRowsInput makes the reset rows of one partition's range.
type CreateResetRowsInput struct {
	OpKey      string `json:"op_key"` // per partition; chunks add their range
	IncidentID string `json:"incident_id"`
	Partition  int    `json:"partition"`
	From       int64  `json:"from"`
	To         int64  `json:"to"`
}

// ResetBatchInput resets one batch of a partition: up to Limit accounts from
// Cursor on, within From..To.
type ResetBatchInput struct {
	IncidentID string `json:"incident_id"`
	Round      int    `json:"round"`
	Partition  int    `json:"partition"`
	From       int64  `json:"from"`
	To         int64  `json:"to"`
	Cursor     int64  `json:"cursor"`
	Limit      int    `json:"limit"`
	// Sweep first gives back the rows of From..To left running past their
	// lease (the first batch of each pass over the range).
	Sweep bool `json:"sweep,omitempty"`
	// Rate is the most accounts per second this batch handles (0: no
	// limit): the incident's rate shared among its partitions.
	Rate float64 `json:"rate,omitempty"`
	// Tuning; zero values take the defaults below.
	Lease       time.Duration `json:"lease,omitempty"`
	Chunk       int           `json:"chunk,omitempty"`
	RetryBase   time.Duration `json:"retry_base,omitempty"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
}

// Defaults of ResetBatchInput.
const (
	DefaultResetChunk       = 250
	DefaultResetMaxAttempts = 10
)

// ResetBatchResult is what one batch did.
type ResetBatchResult struct {
	Next     int64 `json:"next"` // the cursor for the next batch; > To at the end of the range
	Claimed  int   `json:"claimed"`
	Done     int   `json:"done"`
	Failed   int   `json:"failed"`
	Deferred int   `json:"deferred"` // temporary refusals, tried again later
	Released int   `json:"released"` // claimed, not tried: pending again
	Swept    int   `json:"swept"`    // leases of dead batches ended
	// Stopped is the track's state when the batch stopped because the track
	// no longer runs (paused).
	Stopped breach.TrackState `json:"stopped,omitempty"`
	// At the end of the range: rows still open and when the earliest can be
	// worked on.
	Open   int64      `json:"open"`
	WakeAt *time.Time `json:"wake_at,omitempty"`
}

// Add sums another batch's counts.
func (r *ResetBatchResult) Add(o ResetBatchResult) {
	r.Claimed += o.Claimed
	r.Done += o.Done
	r.Failed += o.Failed
	r.Deferred += o.Deferred
	r.Released += o.Released
	r.Swept += o.Swept
}

// PollStatusInput asks the provider which reset accounts completed.
type PollStatusInput struct {
	IncidentID string  `json:"incident_id"`
	Poll       int     `json:"poll"` // the poll's number, for the audit row
	Chunk      int     `json:"chunk,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
}

// PollStatusResult is what one poll found.
type PollStatusResult struct {
	Checked   int `json:"checked"`
	Completed int `json:"completed"`
	// Error is the connector's configuration error when it cannot answer
	// (e.g. an sql connector without a status statement): stored on the
	// track and shown; completions then come by webhook only.
	Error string `json:"error,omitempty"`
}
