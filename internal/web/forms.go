package web

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/web/i18n"
	webui "github.com/breach-engine/breach/templates/web"
)

// newForm is an empty form with a fresh idempotency key.
func newForm() webui.Form {
	return webui.Form{Values: url.Values{}, Errors: map[string]string{}, RequestID: uuid.NewString()}
}

// submitted is the form as posted, keeping its idempotency key so that a
// form sent again after an error is still one request.
func submitted(v url.Values) webui.Form {
	f := webui.Form{Values: v, Errors: map[string]string{}, RequestID: v.Get("request_id")}
	if _, err := uuid.Parse(f.RequestID); err != nil {
		f.RequestID = uuid.NewString()
	}
	return f
}

var indexSuffix = regexp.MustCompile(`\[\d+\]$`)

// withErrors puts the domain errors of err beside the fields they name: the
// field of a list item ("data_categories[2]") is the list's, "fields." of a
// workflow's rejection is dropped. Fields the form does not show, and errors
// without a field, go to the top. It reports whether err held any domain
// error of code ErrInvalid (a form to show again) rather than another failure.
func withErrors(f *webui.Form, l i18n.Lang, err error, fields ...string) bool {
	var list []*breach.Error
	var es breach.Errors
	var one *breach.Error
	switch {
	case errors.As(err, &es):
		list = es
	case errors.As(err, &one):
		list = []*breach.Error{one}
	default:
		return false
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	known := map[string]bool{}
	for _, name := range fields {
		known[name] = true
	}
	invalid := false
	for _, e := range list {
		if e.Code != breach.ErrInvalid {
			continue
		}
		invalid = true
		field := strings.TrimPrefix(indexSuffix.ReplaceAllString(e.Field, ""), "fields.")
		msg := l.Field(e.Message)
		if known[field] {
			if _, taken := f.Errors[field]; !taken {
				f.Errors[field] = msg
			}
			continue
		}
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		f.General = append(f.General, msg)
	}
	return invalid
}

// localTime reads a datetime-local value ("2026-11-25T09:30"), Paris time.
func localTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), i18n.Paris); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a date and time")
}

// localValue writes a time for a datetime-local input, Paris time.
func localValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(i18n.Paris).Format("2006-01-02T15:04")
}

// incidentFields are the names of the facts form's fields: the JSON paths of
// breach.IncidentInput, so that a validation error's Field names its input.
var incidentFields = []string{
	"title", "reference", "description", "discovery", "occurred_at", "detected_at", "aware_at", "aware_at_reason",
	"controller.name", "controller.siren", "controller.legal_representative", "controller.dpo.name",
	"controller.dpo.email", "controller.dpo.phone", "breach_types", "data_categories", "subject_categories",
	"approx_subjects", "approx_records", "cause", "ongoing", "regimes",
	"circumstances.ease_of_identification", "circumstances.recipients", "circumstances.availability_loss",
	"circumstances.malicious", "circumstances.data_unintelligible", "circumstances.vulnerable_subjects",
	"circumstances.integrity_recoverable", "circumstances.backup_available",
}

// parseIncident reads the facts form. Values that cannot be read (a date, a
// number, a yes/no) are errors of their field; everything else is left to
// IncidentInput.Validate, the one judge of an incident.
func parseIncident(v url.Values) (breach.IncidentInput, breach.Errors) {
	var es breach.Errors
	in := breach.IncidentInput{
		Reference:     strings.TrimSpace(v.Get("reference")),
		Title:         strings.TrimSpace(v.Get("title")),
		Description:   strings.TrimSpace(v.Get("description")),
		Discovery:     strings.TrimSpace(v.Get("discovery")),
		AwareAtReason: strings.TrimSpace(v.Get("aware_at_reason")),
		Controller: breach.Controller{
			Name:                strings.TrimSpace(v.Get("controller.name")),
			SIREN:               strings.ReplaceAll(strings.TrimSpace(v.Get("controller.siren")), " ", ""),
			LegalRepresentative: strings.TrimSpace(v.Get("controller.legal_representative")),
			DPO: breach.Contact{
				Name:  strings.TrimSpace(v.Get("controller.dpo.name")),
				Email: strings.TrimSpace(v.Get("controller.dpo.email")),
				Phone: strings.TrimSpace(v.Get("controller.dpo.phone")),
			},
		},
		Cause:   breach.Cause(v.Get("cause")),
		Ongoing: v.Get("ongoing") == "true",
	}
	for _, s := range v["data_categories"] {
		in.DataCategories = append(in.DataCategories, breach.DataCategory(s))
	}
	for _, s := range v["subject_categories"] {
		in.SubjectCategories = append(in.SubjectCategories, breach.SubjectCategory(s))
	}
	for _, s := range v["breach_types"] {
		in.BreachTypes = append(in.BreachTypes, breach.BreachType(s))
	}
	for _, s := range v["regimes"] {
		in.Regimes = append(in.Regimes, breach.RegimeCode(s))
	}
	when := func(field string) *time.Time {
		s := strings.TrimSpace(v.Get(field))
		if s == "" {
			return nil // Validate says when it is required
		}
		t, err := localTime(s)
		if err != nil {
			es = append(es, breach.Invalid(field, "not a date and time"))
			return nil
		}
		return &t
	}
	if t := when("detected_at"); t != nil {
		in.DetectedAt = *t
	}
	if t := when("aware_at"); t != nil {
		in.AwareAt = *t
	}
	in.OccurredAt = when("occurred_at")
	count := func(field string) int64 {
		s := strings.ReplaceAll(strings.TrimSpace(v.Get(field)), " ", "")
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			es = append(es, breach.Invalid(field, "must be a whole number"))
			return 0
		}
		return n
	}
	in.ApproxSubjects = count("approx_subjects")
	in.ApproxRecords = count("approx_records")

	c := &in.Circumstances
	if s := v.Get("circumstances.ease_of_identification"); s != "" {
		e := breach.Ease(s)
		c.EaseOfIdentification = &e
	}
	if s := v.Get("circumstances.recipients"); s != "" {
		r := breach.Recipients(s)
		c.Recipients = &r
	}
	if s := v.Get("circumstances.availability_loss"); s != "" {
		a := breach.AvailabilityLoss(s)
		c.AvailabilityLoss = &a
	}
	yesNo := func(field string) *bool {
		switch v.Get(field) {
		case "":
			return nil
		case "true":
			b := true
			return &b
		case "false":
			b := false
			return &b
		}
		es = append(es, breach.Invalid(field, "must be yes, no or unknown"))
		return nil
	}
	c.Malicious = yesNo("circumstances.malicious")
	c.DataUnintelligible = yesNo("circumstances.data_unintelligible")
	c.VulnerableSubjects = yesNo("circumstances.vulnerable_subjects")
	c.IntegrityRecoverable = yesNo("circumstances.integrity_recoverable")
	c.BackupAvailable = yesNo("circumstances.backup_available")
	return in, es
}

// factsOf is what the risk method weighs from a form being filled in: an
// empty count is unknown, not zero.
func factsOf(in breach.IncidentInput, v url.Values) breach.Facts {
	f := in.Facts()
	if strings.TrimSpace(v.Get("approx_subjects")) == "" || in.ApproxSubjects < 1 {
		f.Subjects = nil
	}
	return f
}

// draftFields are the names of the draft form's fields.
var draftFields = []string{"language", "nature", "consequences", "measures_taken", "measures_proposed", "timeline",
	"delay_reasons", "notes", "contact_person.name", "contact_person.email", "contact_person.phone"}

func parseDraftFields(v url.Values) breach.DraftFields {
	f := breach.DraftFields{
		Language:         breach.Language(v.Get("language")),
		Nature:           strings.TrimSpace(v.Get("nature")),
		Consequences:     strings.TrimSpace(v.Get("consequences")),
		MeasuresTaken:    strings.TrimSpace(v.Get("measures_taken")),
		MeasuresProposed: strings.TrimSpace(v.Get("measures_proposed")),
		Timeline:         strings.TrimSpace(v.Get("timeline")),
		DelayReasons:     strings.TrimSpace(v.Get("delay_reasons")),
		Notes:            strings.TrimSpace(v.Get("notes")),
	}
	c := breach.Contact{
		Name:  strings.TrimSpace(v.Get("contact_person.name")),
		Email: strings.TrimSpace(v.Get("contact_person.email")),
		Phone: strings.TrimSpace(v.Get("contact_person.phone")),
	}
	if c != (breach.Contact{}) {
		f.ContactPerson = &c
	}
	return f
}

// draftValues fills the draft form from a version.
func draftValues(f breach.DraftFields) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("language", string(f.Language))
	set("nature", f.Nature)
	set("consequences", f.Consequences)
	set("measures_taken", f.MeasuresTaken)
	set("measures_proposed", f.MeasuresProposed)
	set("timeline", f.Timeline)
	set("delay_reasons", f.DelayReasons)
	set("notes", f.Notes)
	if c := f.ContactPerson; c != nil {
		set("contact_person.name", c.Name)
		set("contact_person.email", c.Email)
		set("contact_person.phone", c.Phone)
	}
	return v
}

// draftText is the text of a draft field by its JSON name.
func draftText(f breach.DraftFields, name string) string {
	switch name {
	case "nature":
		return f.Nature
	case "consequences":
		return f.Consequences
	case "measures_taken":
		return f.MeasuresTaken
	case "measures_proposed":
		return f.MeasuresProposed
	case "timeline":
		return f.Timeline
	case "delay_reasons":
		return f.DelayReasons
	case "notes":
		return f.Notes
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func asDomain(err error, target **breach.Error) bool { return errors.As(err, target) }
