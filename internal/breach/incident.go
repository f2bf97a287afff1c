package breach

import "time"

// SubjectCategory is a category of people concerned (Art. 33(3)(a)).
type SubjectCategory string

// SubjectCategories lists every subject category the engine knows.
var SubjectCategories = []SubjectCategory{
	"job_seekers", "employees", "customers", "users", "patients", "students",
	"minors", "citizens", "suppliers", "other",
}

// Cause is how the breach came about (EDPB template: incident type and cause).
type Cause string

// Causes lists every known cause.
var Causes = []Cause{
	"malicious_external", "malicious_internal", "accidental_internal",
	"accidental_external", "system_failure", "unknown",
}

// Contact is a person to reach (the DPO, the contact person of the CNIL form).
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

// Controller is the organisation responsible for the processing (the CNIL form
// asks for SIREN and legal representative besides Art. 33(3)(b)'s DPO contact).
type Controller struct {
	Name                string  `json:"name"`
	SIREN               string  `json:"siren"`
	LegalRepresentative string  `json:"legal_representative"`
	DPO                 Contact `json:"dpo"`
}

// IncidentInput is what the DPO gives to open an incident. Reference, when set,
// makes opening idempotent: the same reference returns the same incident.
type IncidentInput struct {
	Reference         string            `json:"reference,omitempty"`
	Title             string            `json:"title"`
	Description       string            `json:"description"`
	Discovery         string            `json:"discovery"` // how the breach was discovered (CNIL item)
	DetectedAt        time.Time         `json:"detected_at"`
	AwareAt           time.Time         `json:"aware_at"` // starts the Art. 33(1) clock
	AwareAtReason     string            `json:"aware_at_reason,omitempty"`
	OccurredAt        *time.Time        `json:"occurred_at,omitempty"`
	Controller        Controller        `json:"controller"`
	DataCategories    []DataCategory    `json:"data_categories"`
	SubjectCategories []SubjectCategory `json:"subject_categories"`
	ApproxSubjects    int64             `json:"approx_subjects"`
	ApproxRecords     int64             `json:"approx_records"`
	BreachTypes       []BreachType      `json:"breach_types"`
	Cause             Cause             `json:"cause"`
	Ongoing           bool              `json:"ongoing"`
	Regimes           []RegimeCode      `json:"regimes,omitempty"` // gdpr is always on
	// Circumstances are the assessment facts not already above.
	Circumstances Circumstances `json:"circumstances"`
}

// Circumstances are the ENISA and EDPB facts beyond categories, types and counts.
type Circumstances struct {
	EaseOfIdentification *Ease             `json:"ease_of_identification,omitempty"`
	Recipients           *Recipients       `json:"recipients,omitempty"`
	IntegrityRecoverable *bool             `json:"integrity_recoverable,omitempty"`
	AvailabilityLoss     *AvailabilityLoss `json:"availability_loss,omitempty"`
	Malicious            *bool             `json:"malicious,omitempty"`
	DataUnintelligible   *bool             `json:"data_unintelligible,omitempty"`
	VulnerableSubjects   *bool             `json:"vulnerable_subjects,omitempty"`
	BackupAvailable      *bool             `json:"backup_available,omitempty"`
}

// IncidentState is where an incident stands.
type IncidentState string

const (
	StateOpen     IncidentState = "open"
	StateAssessed IncidentState = "assessed"
	StateClosed   IncidentState = "closed"
)

// Incident is an incident as stored.
type Incident struct {
	ID string `json:"id"`
	IncidentInput
	State     IncidentState `json:"state"`
	CreatedBy string        `json:"created_by"`
	CreatedAt time.Time     `json:"created_at"`
	ClosedAt  *time.Time    `json:"closed_at,omitempty"`
	Summary   string        `json:"summary,omitempty"` // closing summary
}

// WorkflowID is the Temporal workflow ID of an incident: IDs only, never names.
func WorkflowID(incidentID string) string { return "incident/" + incidentID }

// RegimeWorkflowID is the child workflow of one regime of an incident.
func RegimeWorkflowID(incidentID string, r RegimeCode) string {
	return "incident/" + incidentID + "/regime/" + string(r)
}

// Facts gathers what the assessment weighs from the incident.
func (in IncidentInput) Facts() Facts {
	subjects := in.ApproxSubjects
	c := in.Circumstances
	return Facts{
		BreachTypes:          in.BreachTypes,
		DataCategories:       in.DataCategories,
		Subjects:             &subjects,
		EaseOfIdentification: c.EaseOfIdentification,
		Recipients:           c.Recipients,
		IntegrityRecoverable: c.IntegrityRecoverable,
		AvailabilityLoss:     c.AvailabilityLoss,
		Malicious:            c.Malicious,
		DataUnintelligible:   c.DataUnintelligible,
		VulnerableSubjects:   c.VulnerableSubjects,
		BackupAvailable:      c.BackupAvailable,
	}
}
