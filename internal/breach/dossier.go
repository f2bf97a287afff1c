package breach

import "time"

// Language of a text: dossiers and letters exist in French and English.
type Language string

const (
	French  Language = "fr"
	English Language = "en"
)

// DraftKey identifies one filing's draft within an incident: a regime's stage
// and, for repeatable stages (complementary filings), its sequence number (1..).
type DraftKey struct {
	Regime RegimeCode `json:"regime"`
	Stage  StageCode  `json:"stage"`
	Seq    int        `json:"seq"`
}

// DraftFields are what the drafter writes; everything else in a dossier comes
// from the incident and its assessment.
type DraftFields struct {
	Language         Language `json:"language"`
	Nature           string   `json:"nature"`            // Art. 33(3)(a), in plain words
	Consequences     string   `json:"consequences"`      // Art. 33(3)(c)
	MeasuresTaken    string   `json:"measures_taken"`    // Art. 33(3)(d)
	MeasuresProposed string   `json:"measures_proposed"` // Art. 33(3)(d)
	Timeline         string   `json:"timeline,omitempty"`
	ContactPerson    *Contact `json:"contact_person,omitempty"` // CNIL: defaults to the DPO
	DelayReasons     string   `json:"delay_reasons,omitempty"`  // Art. 33(1): mandatory past the deadline
	Notes            string   `json:"notes,omitempty"`          // complementary: what is new
}

// DraftState is where one draft version stands.
type DraftState string

const (
	DraftPending    DraftState = "pending"    // waiting for approval
	DraftApproved   DraftState = "approved"   // approved, may be filed
	DraftReturned   DraftState = "returned"   // sent back with a comment
	DraftSuperseded DraftState = "superseded" // a newer version exists
	DraftFiled      DraftState = "filed"      // filed with the authority
)

// DraftVersion is one version of a draft as stored. DraftedBy wrote the first
// version of the draft, EditedBy this version: neither may approve it (four-eyes).
type DraftVersion struct {
	ID          string      `json:"id"`
	IncidentID  string      `json:"incident_id"`
	Key         DraftKey    `json:"key"`
	Version     int         `json:"version"`
	State       DraftState  `json:"state"`
	Fields      DraftFields `json:"fields"`
	DraftedBy   string      `json:"drafted_by"`
	EditedBy    string      `json:"edited_by"`
	CreatedAt   time.Time   `json:"created_at"`
	ContentHash string      `json:"content_hash"` // sha256 of the rendered HTML, hex
	ApprovedBy  string      `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time  `json:"approved_at,omitempty"`
	Comment     string      `json:"comment,omitempty"` // approval or return comment
}

// Filing is a notification recorded as made to an authority.
type Filing struct {
	ID             string     `json:"id"`
	IncidentID     string     `json:"incident_id"`
	Key            DraftKey   `json:"key"`
	DraftVersionID string     `json:"draft_version_id"`
	ContentHash    string     `json:"content_hash"`
	FiledAt        time.Time  `json:"filed_at"`
	Channel        string     `json:"channel"`   // e.g. "cnil_online", "email", "anssi_portal"
	Reference      string     `json:"reference"` // the authority's receipt reference
	DueAt          *time.Time `json:"due_at,omitempty"`
	Late           bool       `json:"late"`
	DelayReasons   string     `json:"delay_reasons,omitempty"`
	RecordedBy     string     `json:"recorded_by"`
}

// AssessmentRecord keeps both what the engine proposed and what the DPO decided,
// with the reason (Art. 33(5): a decision not to notify is documented with its reasons).
type AssessmentRecord struct {
	ID         string     `json:"id"`
	IncidentID string     `json:"incident_id"`
	Facts      Facts      `json:"facts"`
	Proposed   Assessment `json:"proposed"`
	Decided    Risk       `json:"decided"`
	Exemption  *Exemption `json:"exemption"`
	Overridden bool       `json:"overridden"`
	Reason     string     `json:"reason"`
	DecidedBy  string     `json:"decided_by"`
	DecidedAt  time.Time  `json:"decided_at"`
}

// NotifySA says whether the decided risk requires notifying the authority.
func (a AssessmentRecord) NotifySA() bool { return a.Decided != RiskNone }

// NotifySubjects says whether the decided risk requires telling the people.
func (a AssessmentRecord) NotifySubjects() bool { return a.Decided == RiskHigh && a.Exemption == nil }
