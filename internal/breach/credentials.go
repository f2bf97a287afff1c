package breach

// The credential track (DESIGN.md track 4): every affected account's
// password reset forced and its sessions ended at the organisation's identity
// provider, then the completions followed. Hashed passwords leaked: forcing
// a reset is the measure that makes them useless (Art. 33(3)(d) and 34(2):
// the measures taken to mitigate the possible adverse effects).

// ResetState is where one account's reset stands (account_resets.state).
type ResetState string

const (
	ResetPending ResetState = "pending"
	ResetRunning ResetState = "running" // claimed by a batch, under a lease
	ResetDone    ResetState = "done"    // reset forced and sessions revoked
	ResetFailed  ResetState = "failed"  // the provider's permanent refusal
)

// ResetStates lists the states in their order.
var ResetStates = []ResetState{ResetPending, ResetRunning, ResetDone, ResetFailed}

// ResetCounts are an incident's account resets by state, and how many of the
// accounts completed their reset (changed their password).
type ResetCounts struct {
	Pending   int64 `json:"pending"`
	Running   int64 `json:"running"`
	Done      int64 `json:"done"`
	Failed    int64 `json:"failed"`
	Completed int64 `json:"completed"`
}

// Total is the number of accounts.
func (c ResetCounts) Total() int64 { return c.Pending + c.Running + c.Done + c.Failed }

// Add adds n accounts in state s.
func (c *ResetCounts) Add(s ResetState, n int64) {
	switch s {
	case ResetPending:
		c.Pending += n
	case ResetRunning:
		c.Running += n
	case ResetDone:
		c.Done += n
	case ResetFailed:
		c.Failed += n
	}
}

// TrackState is where an incident's credential track stands
// (credential_tracks.state).
type TrackState string

const (
	TrackIdle    TrackState = "idle"    // not started (no row)
	TrackRunning TrackState = "running" // the reset runs
	TrackPaused  TrackState = "paused"  // by the DPO, or a misconfigured connector
	TrackPolling TrackState = "polling" // every account handled; completions are polled
	TrackEnded   TrackState = "ended"
)
