package breach

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// ClockSkew is how far in the future a time given as already past may lie:
// the clocks of the DPO's machine and the server's differ a little.
const ClockSkew = time.Minute

// Length limits on free text: generous, they only stop abuse.
const (
	maxShortText = 500    // names, titles, references
	maxLongText  = 50_000 // descriptions and the texts of a draft
)

// Validate checks an incident before anything is written. It returns nil or
// Errors, every problem in field order, each naming its JSON field path
// ("aware_at", "controller.siren", "data_categories[1]"); errors.As finds the
// first as a *Error. Messages name fields, never their values (personal data).
func (in IncidentInput) Validate(now time.Time) error {
	var es Errors
	bad := func(field, format string, args ...any) {
		es = append(es, Invalid(field, format, args...))
	}

	textLimit(&es, "reference", in.Reference, 200)
	if strings.TrimSpace(in.Title) == "" {
		bad("title", "required")
	}
	textLimit(&es, "title", in.Title, maxShortText)
	textLimit(&es, "description", in.Description, maxLongText)
	textLimit(&es, "discovery", in.Discovery, maxLongText)

	// Times: occurred <= detected <= aware <= now. The Art. 33(1) clock starts
	// at aware_at, when the controller has a reasonable degree of certainty that
	// personal data was compromised, which comes after the first detection
	// (EDPB Guidelines 9/2022, awareness). None of them can be in the future.
	latest := now.Add(ClockSkew)
	if in.DetectedAt.IsZero() {
		bad("detected_at", "required")
	} else if in.DetectedAt.After(latest) {
		bad("detected_at", "is in the future")
	}
	if in.AwareAt.IsZero() {
		bad("aware_at", "required")
	} else if in.AwareAt.After(latest) {
		bad("aware_at", "is in the future")
	} else if !in.DetectedAt.IsZero() && in.AwareAt.Before(in.DetectedAt) {
		bad("aware_at", "is before detected_at: awareness follows detection")
	}
	textLimit(&es, "aware_at_reason", in.AwareAtReason, maxLongText)
	if in.OccurredAt != nil {
		switch {
		case in.OccurredAt.IsZero():
			bad("occurred_at", "must be a time, or omitted when unknown")
		case in.OccurredAt.After(latest):
			bad("occurred_at", "is in the future")
		case !in.DetectedAt.IsZero() && in.OccurredAt.After(in.DetectedAt):
			bad("occurred_at", "is after detected_at: a breach is detected after it occurs")
		}
	}

	// Controller identity: the CNIL form asks for SIREN and legal
	// representative; Art. 33(3)(b) for the DPO's name and contact details.
	c := in.Controller
	required(&es, "controller.name", c.Name, maxShortText)
	if c.SIREN == "" {
		bad("controller.siren", "required")
	} else if err := checkSIREN(c.SIREN); err != "" {
		bad("controller.siren", "%s", err)
	}
	required(&es, "controller.legal_representative", c.LegalRepresentative, maxShortText)
	validateContact(&es, "controller.dpo", c.DPO)

	// Art. 33(3)(a): categories and approximate numbers.
	if len(in.DataCategories) == 0 {
		bad("data_categories", "at least one data category is required")
	}
	enumList(&es, "data_categories", in.DataCategories, DataCategories)
	enumList(&es, "subject_categories", in.SubjectCategories, SubjectCategories)
	if in.ApproxSubjects < 0 {
		bad("approx_subjects", "must not be negative")
	}
	if in.ApproxRecords < 0 {
		bad("approx_records", "must not be negative")
	}

	// Art. 4(12): confidentiality, integrity, availability, combined.
	if len(in.BreachTypes) == 0 {
		bad("breach_types", "at least one breach type is required")
	}
	enumList(&es, "breach_types", in.BreachTypes, BreachTypes)
	if in.Cause == "" {
		bad("cause", "required (use %q when not known yet)", "unknown")
	} else if !member(in.Cause, Causes) {
		bad("cause", "unknown value; expected one of %s", list(Causes))
	}

	// Regimes: GDPR is always on and may be listed; others must be known.
	enumList(&es, "regimes", in.Regimes, RegimeCodes())

	ci := in.Circumstances
	enumPtr(&es, "circumstances.ease_of_identification", ci.EaseOfIdentification, eases)
	enumPtr(&es, "circumstances.recipients", ci.Recipients, recipientsValues)
	enumPtr(&es, "circumstances.availability_loss", ci.AvailabilityLoss, availabilityValues)

	return es.Err()
}

// Validate checks what a drafter wrote: the language and the Art. 33(3)
// texts that only the drafter can give (nature, consequences, measures taken).
// It returns nil or Errors, like IncidentInput.Validate.
func (f DraftFields) Validate() error {
	var es Errors
	if f.Language == "" {
		es = append(es, Invalid("language", "required (%s)", list([]Language{French, English})))
	} else if f.Language != French && f.Language != English {
		es = append(es, Invalid("language", "unknown value; expected one of %s", list([]Language{French, English})))
	}
	required(&es, "nature", f.Nature, maxLongText)             // Art. 33(3)(a)
	required(&es, "consequences", f.Consequences, maxLongText) // Art. 33(3)(c)
	required(&es, "measures_taken", f.MeasuresTaken, maxLongText)
	textLimit(&es, "measures_proposed", f.MeasuresProposed, maxLongText) // Art. 33(3)(d)
	textLimit(&es, "timeline", f.Timeline, maxLongText)
	if f.ContactPerson != nil {
		validateContact(&es, "contact_person", *f.ContactPerson)
	}
	textLimit(&es, "delay_reasons", f.DelayReasons, maxLongText) // Art. 33(1)
	textLimit(&es, "notes", f.Notes, maxLongText)
	return es.Err()
}

// Validate checks a facts document: known values, no duplicates, no negative
// count. Absent fields are unknown, which is allowed. ParseFacts also calls it.
func (f Facts) Validate() error {
	var es Errors
	if f.BreachTypes != nil && len(f.BreachTypes) == 0 {
		es = append(es, Invalid("breach_types", "must list at least one value; omit the field when unknown"))
	}
	enumList(&es, "breach_types", f.BreachTypes, BreachTypes)
	if f.DataCategories != nil && len(f.DataCategories) == 0 {
		es = append(es, Invalid("data_categories", "must list at least one value; omit the field when unknown"))
	}
	enumList(&es, "data_categories", f.DataCategories, DataCategories)
	if f.Subjects != nil && *f.Subjects < 1 {
		es = append(es, Invalid("subjects", "must be at least 1; omit the field when unknown"))
	}
	enumPtr(&es, "ease_of_identification", f.EaseOfIdentification, eases)
	enumPtr(&es, "recipients", f.Recipients, recipientsValues)
	enumPtr(&es, "availability_loss", f.AvailabilityLoss, availabilityValues)
	return es.Err()
}

var (
	eases              = []Ease{EaseNegligible, EaseLimited, EaseSignificant, EaseMaximum}
	recipientsValues   = []Recipients{RecipientsNone, RecipientsKnownTrusted, RecipientsUnknown}
	availabilityValues = []AvailabilityLoss{AvailabilityNone, AvailabilityTemporary, AvailabilityPermanent}
)

// validateContact checks a person to reach: name and a plain email address
// required, phone optional.
func validateContact(es *Errors, field string, c Contact) {
	required(es, field+".name", c.Name, maxShortText)
	if strings.TrimSpace(c.Email) == "" {
		*es = append(*es, Invalid(field+".email", "required"))
	} else if !validEmail(c.Email) {
		*es = append(*es, Invalid(field+".email", "not a valid email address (name@domain)"))
	}
	if c.Phone != "" && !validPhone(c.Phone) {
		*es = append(*es, Invalid(field+".phone", "not a valid telephone number (digits, spaces, + . - ( ))"))
	}
}

// validEmail accepts a bare address (no display name, no angle brackets)
// that net/mail parses, with a dotted domain.
func validEmail(s string) bool {
	if s != strings.TrimSpace(s) || len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '.', r == '-', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 4 && digits <= 20
}

// checkSIREN checks a SIREN number: nine digits whose Luhn checksum is valid
// (INSEE: the ninth digit is the Luhn check digit of the first eight). It
// returns "" when valid, or what is wrong.
func checkSIREN(s string) string {
	if len(s) != 9 {
		return "must be 9 digits, without spaces"
	}
	for i := 0; i < 9; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "must be 9 digits, without spaces"
		}
	}
	if !luhn(s) {
		return "checksum (Luhn) does not match: check the number"
	}
	return ""
}

// luhn reports whether the digit string passes the Luhn checksum.
func luhn(digits string) bool {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// ValidSIREN reports whether s is a well-formed SIREN (9 digits, Luhn).
func ValidSIREN(s string) bool { return checkSIREN(s) == "" }

func required(es *Errors, field, s string, limit int) {
	if strings.TrimSpace(s) == "" {
		*es = append(*es, Invalid(field, "required"))
		return
	}
	textLimit(es, field, s, limit)
}

func textLimit(es *Errors, field, s string, limit int) {
	if !utf8.ValidString(s) {
		*es = append(*es, Invalid(field, "not valid UTF-8"))
	} else if n := utf8.RuneCountInString(s); n > limit {
		*es = append(*es, Invalid(field, "too long (%d characters, at most %d)", n, limit))
	}
}

// enumList checks that every value is known and appears once; the field of a
// bad value carries its index: data_categories[2].
func enumList[T ~string](es *Errors, field string, values, known []T) {
	for i, v := range values {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !member(v, known) {
			*es = append(*es, Invalid(f, "unknown value; expected one of %s", list(known)))
			continue
		}
		for j := 0; j < i; j++ {
			if values[j] == v {
				*es = append(*es, Invalid(f, "duplicate of %s[%d]", field, j))
				break
			}
		}
	}
}

func enumPtr[T ~string](es *Errors, field string, v *T, known []T) {
	if v != nil && !member(*v, known) {
		*es = append(*es, Invalid(field, "unknown value; expected one of %s", list(known)))
	}
}

func member[T comparable](v T, known []T) bool {
	for _, k := range known {
		if v == k {
			return true
		}
	}
	return false
}

func list[T ~string](known []T) string {
	s := make([]string, len(known))
	for i, k := range known {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
