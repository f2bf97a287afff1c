package breach

import (
	"fmt"
	"time"
)

// Telling the people concerned (Art. 34): letters approved under four-eyes,
// sends, and the per-person delivery ledger. Types here carry IDs, states and
// counts only: contact data stays in the people table and, opened, in memory.

// LetterState is where one version of a letter stands.
type LetterState string

const (
	LetterPending    LetterState = "pending"    // waiting for an approver
	LetterApproved   LetterState = "approved"   // may be sent
	LetterReturned   LetterState = "returned"   // sent back: a new version is needed
	LetterSuperseded LetterState = "superseded" // a newer version replaced it
)

// LetterVersion is one version of the letter in one language, as stored.
type LetterVersion struct {
	ID         string       `json:"id"`
	IncidentID string       `json:"incident_id"`
	Kind       LetterKind   `json:"kind"`
	Language   Language     `json:"language"`
	Version    int          `json:"version"`
	State      LetterState  `json:"state"`
	Fields     LetterFields `json:"fields"`
	// Reminder holds the fields of a reminder (Kind reminder); Fields is
	// then empty.
	Reminder    *ReminderFields `json:"reminder,omitempty"`
	DraftedBy   string          `json:"drafted_by"`
	EditedBy    string          `json:"edited_by"`
	CreatedAt   time.Time       `json:"created_at"`
	ContentHash string          `json:"content_hash"`
	ApprovedBy  string          `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time      `json:"approved_at,omitempty"`
	Comment     string          `json:"comment,omitempty"`
}

// DeliveryState is where one ledger row (a person, a letter version) stands.
type DeliveryState string

const (
	DeliveryPending DeliveryState = "pending" // to send (again, after a temporary refusal)
	DeliverySending DeliveryState = "sending" // claimed by a batch, under a lease
	DeliverySent    DeliveryState = "sent"    // the relay accepted it
	DeliveryFailed  DeliveryState = "failed"  // the relay refused it for good (5xx)
	DeliveryUnknown DeliveryState = "unknown" // the lease expired while sending: perhaps delivered
)

// DeliveryStates lists the ledger states in the order of the lifecycle.
var DeliveryStates = []DeliveryState{DeliveryPending, DeliverySending, DeliverySent, DeliveryFailed, DeliveryUnknown}

// SendState is where a send stands.
type SendState string

const (
	SendRunning   SendState = "running"
	SendPaused    SendState = "paused"
	SendCancelled SendState = "cancelled" // pending rows stay pending
	SendCompleted SendState = "completed"
)

// Active reports whether the send may still send.
func (s SendState) Active() bool { return s == SendRunning || s == SendPaused }

// UnknownPolicy says what becomes of a row whose outcome is unknown (its lease
// expired while sending): resend it with the same Message-ID, or hold it for
// a person to decide.
type UnknownPolicy string

const (
	PolicyResend UnknownPolicy = "resend"
	PolicyHold   UnknownPolicy = "hold"
)

// Valid reports whether p is a known policy.
func (p UnknownPolicy) Valid() bool { return p == PolicyResend || p == PolicyHold }

// DeliveryCounts are the ledger rows of an incident by state.
type DeliveryCounts struct {
	Pending int64 `json:"pending"`
	Sending int64 `json:"sending"`
	Sent    int64 `json:"sent"`
	Failed  int64 `json:"failed"`
	Unknown int64 `json:"unknown"`
}

// Total is the number of rows.
func (c DeliveryCounts) Total() int64 { return c.Pending + c.Sending + c.Sent + c.Failed + c.Unknown }

// Done is the number of rows in a final state (sent, failed or unknown).
func (c DeliveryCounts) Done() int64 { return c.Sent + c.Failed + c.Unknown }

// Add adds n rows of state s.
func (c *DeliveryCounts) Add(s DeliveryState, n int64) {
	switch s {
	case DeliveryPending:
		c.Pending += n
	case DeliverySending:
		c.Sending += n
	case DeliverySent:
		c.Sent += n
	case DeliveryFailed:
		c.Failed += n
	case DeliveryUnknown:
		c.Unknown += n
	}
}

// Send is one start of the sending of approved letters to the people of an
// incident.
type Send struct {
	ID         string        `json:"id"`
	IncidentID string        `json:"incident_id"`
	Seq        int           `json:"seq"`
	Kind       LetterKind    `json:"kind"`
	Round      int           `json:"round,omitempty"` // reminders: 1, 2...
	State      SendState     `json:"state"`
	Policy     UnknownPolicy `json:"policy"`
	Letters    []string      `json:"letters"` // letter version IDs, one per language
	Total      int64         `json:"total"`   // people when the send started
	MinPerson  int64         `json:"min_person"`
	MaxPerson  int64         `json:"max_person"`
	Partitions int           `json:"partitions"`
	Risk       Risk          `json:"risk"`
	Reason     string        `json:"reason,omitempty"`
	StartedBy  string        `json:"started_by"`
	StartedAt  time.Time     `json:"started_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	FinishedAt *time.Time    `json:"finished_at,omitempty"`
}

// PeopleWorkflowID is the workflow of an incident's people track (letters,
// their approval, the send): a child of the incident's workflow.
func PeopleWorkflowID(incidentID string) string { return WorkflowID(incidentID) + "/people" }

// CredentialsWorkflowID is the workflow of an incident's credential track
// (the forced password reset and its completions).
func CredentialsWorkflowID(incidentID string) string { return WorkflowID(incidentID) + "/credentials" }

// ResetPartitionWorkflowID is the workflow resetting one range of accounts
// in one round of the credential track (a round per start or resume).
func ResetPartitionWorkflowID(incidentID string, round, partition int) string {
	return fmt.Sprintf("%s/round/%d/partition/%d", CredentialsWorkflowID(incidentID), round, partition)
}

// PartitionWorkflowID is the workflow sending one range of people of one send.
func PartitionWorkflowID(incidentID string, sendSeq, partition int) string {
	return fmt.Sprintf("%s/send/%d/partition/%d", PeopleWorkflowID(incidentID), sendSeq, partition)
}

// SendFacts are what starting a send is decided on: the population by
// language, the decided risk, whether a send is already active. Counts and
// IDs only.
type SendFacts struct {
	IncidentState IncidentState   `json:"incident_state"`
	People        int64           `json:"people"`
	MinPerson     int64           `json:"min_person"`
	MaxPerson     int64           `json:"max_person"`
	Languages     []LanguageCount `json:"languages"` // the languages present, fr first
	// Risk is the decided risk ("" when the incident was not assessed);
	// NotifySubjects says that Art. 34 requires telling the people (high
	// risk and no Art. 34(3) exemption).
	Risk           Risk `json:"risk"`
	NotifySubjects bool `json:"notify_subjects"`
	ActiveSend     int  `json:"active_send,omitempty"` // seq of the running or paused send; 0: none
}

// LanguageCount is how many people read one language.
type LanguageCount struct {
	Language Language `json:"language"`
	People   int64    `json:"people"`
}

// ApprovedLetter is the approved current version of the letter in one language.
type ApprovedLetter struct {
	ID          string   `json:"id"`
	Language    Language `json:"language"`
	Version     int      `json:"version"`
	ContentHash string   `json:"content_hash"`
}

// CheckSendStart applies the rules of starting a send: the incident is open,
// no send is active, there are people, every language present among them has
// an approved letter, and unless Art. 34 requires telling them (high risk, no
// exemption) the DPO says why they are told anyway. It returns the letters to
// send, one per language present.
func CheckSendStart(f SendFacts, approved []ApprovedLetter, reason string) ([]ApprovedLetter, error) {
	if f.IncidentState == StateClosed {
		return nil, Errorf(ErrConflict, "the incident is closed")
	}
	if f.ActiveSend != 0 {
		return nil, Errorf(ErrConflict, "send %d is still active: resume or cancel it", f.ActiveSend)
	}
	if f.People == 0 {
		return nil, Errorf(ErrConflict, "no people are imported for this incident")
	}
	var out []ApprovedLetter
	for _, lc := range f.Languages {
		var found *ApprovedLetter
		for i := range approved {
			if approved[i].Language == lc.Language {
				found = &approved[i]
				break
			}
		}
		if found == nil {
			return nil, &Error{Code: ErrConflict, Field: "letters", Message: fmt.Sprintf(
				"%d people read %q and the letter in %q has no approved version", lc.People, lc.Language, lc.Language)}
		}
		out = append(out, *found)
	}
	if !f.NotifySubjects && blankText(reason) {
		risk := string(f.Risk)
		if risk == "" {
			risk = "not assessed"
		}
		return nil, Invalid("reason", "the decided risk is %s (or exempted): telling the people needs a reason", risk)
	}
	return out, nil
}

func blankText(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
