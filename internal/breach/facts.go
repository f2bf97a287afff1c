package breach

// BreachType is one of the three kinds of breach of Art. 4(12); they combine.
type BreachType string

const (
	Confidentiality BreachType = "confidentiality"
	Integrity       BreachType = "integrity"
	Availability    BreachType = "availability"
)

// BreachTypes lists every breach type.
var BreachTypes = []BreachType{Confidentiality, Integrity, Availability}

// DataCategory is a category of personal data concerned (Art. 33(3)(a)).
type DataCategory string

const (
	DataIdentification  DataCategory = "identification"
	DataContact         DataCategory = "contact"
	DataOfficialID      DataCategory = "official_id"
	DataCredentials     DataCategory = "credentials"
	DataFinancial       DataCategory = "financial"
	DataHealth          DataCategory = "health"
	DataSpecialCategory DataCategory = "special_category"
	DataBehavioural     DataCategory = "behavioural"
	DataLocation        DataCategory = "location"
	DataEmployment      DataCategory = "employment"
	DataMinors          DataCategory = "minors"
)

// DataCategories lists every data category, in the order dossiers show them.
var DataCategories = []DataCategory{
	DataIdentification, DataContact, DataOfficialID, DataCredentials, DataFinancial,
	DataHealth, DataSpecialCategory, DataBehavioural, DataLocation, DataEmployment, DataMinors,
}

// Ease is the ENISA ease of identification of the people from the data.
type Ease string

const (
	EaseNegligible  Ease = "negligible"
	EaseLimited     Ease = "limited"
	EaseSignificant Ease = "significant"
	EaseMaximum     Ease = "maximum"
)

// Recipients says who received data whose confidentiality was lost.
type Recipients string

const (
	RecipientsNone         Recipients = "none"
	RecipientsKnownTrusted Recipients = "known_trusted"
	RecipientsUnknown      Recipients = "unknown"
)

// AvailabilityLoss says how long data was or will be unavailable.
type AvailabilityLoss string

const (
	AvailabilityNone      AvailabilityLoss = "none"
	AvailabilityTemporary AvailabilityLoss = "temporary"
	AvailabilityPermanent AvailabilityLoss = "permanent"
)

// Facts are what a risk assessment weighs: the ENISA inputs and the EDPB
// factors outside the formula. A nil pointer or empty slice means "unknown";
// the assessment then says what it assumed. This is the document read by
// `breach assess --json`.
type Facts struct {
	BreachTypes          []BreachType      `json:"breach_types,omitempty"`
	DataCategories       []DataCategory    `json:"data_categories,omitempty"`
	Subjects             *int64            `json:"subjects,omitempty"`
	EaseOfIdentification *Ease             `json:"ease_of_identification,omitempty"`
	Recipients           *Recipients       `json:"recipients,omitempty"`
	IntegrityRecoverable *bool             `json:"integrity_recoverable,omitempty"`
	AvailabilityLoss     *AvailabilityLoss `json:"availability_loss,omitempty"`
	Malicious            *bool             `json:"malicious,omitempty"`
	DataUnintelligible   *bool             `json:"data_unintelligible,omitempty"`
	VulnerableSubjects   *bool             `json:"vulnerable_subjects,omitempty"`
	BackupAvailable      *bool             `json:"backup_available,omitempty"`
}

// Band is the ENISA severity band.
type Band string

const (
	BandLow      Band = "low"
	BandMedium   Band = "medium"
	BandHigh     Band = "high"
	BandVeryHigh Band = "very_high"
)

// Risk is the EDPB outcome: record only, notify the authority, or also tell the people.
type Risk string

const (
	RiskNone Risk = "none" // record only (Art. 33(5))
	RiskSome Risk = "risk" // notify the authority (Art. 33(1))
	RiskHigh Risk = "high" // also tell the people (Art. 34(1))
)

// Valid reports whether r is a known risk level.
func (r Risk) Valid() bool { return r == RiskNone || r == RiskSome || r == RiskHigh }

// Exemption is the Art. 34(3) ground that spares telling the people.
type Exemption string

const (
	ExemptionUnintelligible Exemption = "art34_3_a" // data unintelligible (encryption, key safe)
	ExemptionMitigated      Exemption = "art34_3_b" // later measures removed the high risk
	ExemptionDisproportion  Exemption = "art34_3_c" // disproportionate effort: public communication instead
)

// ENISA is the severity score SE = DPC x EI + CB and its parts.
type ENISA struct {
	DPC   float64 `json:"dpc"`
	EI    float64 `json:"ei"`
	CB    float64 `json:"cb"`
	Score float64 `json:"score"`
	Band  Band    `json:"band"`
}

// Assessment is what the engine proposes from the facts.
type Assessment struct {
	ENISA          ENISA      `json:"enisa"`
	Risk           Risk       `json:"risk"`
	NotifySA       bool       `json:"notify_sa"`
	NotifySubjects bool       `json:"notify_subjects"`
	Exemption      *Exemption `json:"exemption"`
	Reasons        []string   `json:"reasons"`
}
