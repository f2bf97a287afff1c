package breach

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func validIncident() IncidentInput {
	occurred := now.Add(-72 * time.Hour)
	return IncidentInput{
		Reference:     "INC-2026-041",
		Title:         "Exfiltration of job-seeker records",
		Description:   "Records copied through a partner account.",
		Discovery:     "Alert from the security operations centre.",
		DetectedAt:    now.Add(-30 * time.Hour),
		AwareAt:       now.Add(-26 * time.Hour),
		AwareAtReason: "Forensic confirmation of the exfiltration.",
		OccurredAt:    &occurred,
		Controller: Controller{
			Name:                "Agence publique de l'emploi (fictive)",
			SIREN:               "123456782",
			LegalRepresentative: "Claire Fontaine",
			DPO:                 Contact{Name: "Julien Marchal", Email: "dpo@emploi.example", Phone: "+33 1 23 45 67 89"},
		},
		DataCategories:    []DataCategory{DataIdentification, DataContact, DataEmployment, DataHealth, DataCredentials},
		SubjectCategories: []SubjectCategory{"job_seekers"},
		ApproxSubjects:    4_800_000,
		ApproxRecords:     4_800_000,
		BreachTypes:       []BreachType{Confidentiality},
		Cause:             "malicious_external",
		Regimes:           []RegimeCode{RegimeGDPR, RegimeNIS2},
		Circumstances: Circumstances{
			EaseOfIdentification: p(EaseMaximum),
			Recipients:           p(RecipientsUnknown),
			Malicious:            p(true),
			AvailabilityLoss:     p(AvailabilityNone),
		},
	}
}

func TestValidIncident(t *testing.T) {
	if err := validIncident().Validate(now); err != nil {
		t.Fatalf("valid incident rejected: %v", err)
	}
	// Optional parts may be left out.
	in := validIncident()
	in.OccurredAt, in.Regimes, in.SubjectCategories, in.Reference = nil, nil, nil, ""
	in.Controller.DPO.Phone, in.Circumstances = "", Circumstances{}
	in.ApproxSubjects, in.ApproxRecords = 0, 0
	if err := in.Validate(now); err != nil {
		t.Fatalf("incident without optional parts rejected: %v", err)
	}
	// aware_at may equal detected_at, and lie within the clock skew.
	in.DetectedAt, in.AwareAt = now.Add(ClockSkew), now.Add(ClockSkew)
	if err := in.Validate(now); err != nil {
		t.Fatalf("times within the clock skew rejected: %v", err)
	}
}

func TestIncidentValidationNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*IncidentInput)
		field string
	}{
		{"title missing", func(in *IncidentInput) { in.Title = "" }, "title"},
		{"title blank", func(in *IncidentInput) { in.Title = "  \t" }, "title"},
		{"title too long", func(in *IncidentInput) { in.Title = strings.Repeat("x", 501) }, "title"},
		{"reference too long", func(in *IncidentInput) { in.Reference = strings.Repeat("r", 201) }, "reference"},
		{"description not UTF-8", func(in *IncidentInput) { in.Description = "\xff" }, "description"},
		{"detected_at missing", func(in *IncidentInput) { in.DetectedAt = time.Time{}; in.OccurredAt = nil }, "detected_at"},
		{"detected_at in the future", func(in *IncidentInput) {
			in.DetectedAt = now.Add(2 * time.Minute)
			in.AwareAt = now.Add(2 * time.Minute)
		}, "detected_at"},
		{"aware_at missing", func(in *IncidentInput) { in.AwareAt = time.Time{} }, "aware_at"},
		{"aware_at in the future", func(in *IncidentInput) { in.AwareAt = now.Add(ClockSkew + time.Second) }, "aware_at"},
		{"aware_at before detected_at", func(in *IncidentInput) { in.AwareAt = in.DetectedAt.Add(-time.Second) }, "aware_at"},
		{"occurred_at zero", func(in *IncidentInput) { in.OccurredAt = &time.Time{} }, "occurred_at"},
		{"occurred_at after detected_at", func(in *IncidentInput) { at := in.DetectedAt.Add(time.Second); in.OccurredAt = &at }, "occurred_at"},
		{"occurred_at in the future", func(in *IncidentInput) { at := now.Add(time.Hour); in.OccurredAt = &at }, "occurred_at"},
		{"controller name missing", func(in *IncidentInput) { in.Controller.Name = "" }, "controller.name"},
		{"SIREN missing", func(in *IncidentInput) { in.Controller.SIREN = "" }, "controller.siren"},
		{"SIREN too short", func(in *IncidentInput) { in.Controller.SIREN = "12345678" }, "controller.siren"},
		{"SIREN with spaces", func(in *IncidentInput) { in.Controller.SIREN = "123 456 782" }, "controller.siren"},
		{"SIREN with letters", func(in *IncidentInput) { in.Controller.SIREN = "12345678A" }, "controller.siren"},
		{"SIREN bad checksum", func(in *IncidentInput) { in.Controller.SIREN = "123456789" }, "controller.siren"},
		{"legal representative missing", func(in *IncidentInput) { in.Controller.LegalRepresentative = "" }, "controller.legal_representative"},
		{"DPO name missing", func(in *IncidentInput) { in.Controller.DPO.Name = "" }, "controller.dpo.name"},
		{"DPO email missing", func(in *IncidentInput) { in.Controller.DPO.Email = "" }, "controller.dpo.email"},
		{"DPO email without @", func(in *IncidentInput) { in.Controller.DPO.Email = "dpo.emploi.example" }, "controller.dpo.email"},
		{"DPO email with a display name", func(in *IncidentInput) { in.Controller.DPO.Email = "DPO <dpo@emploi.example>" }, "controller.dpo.email"},
		{"DPO email without a dotted domain", func(in *IncidentInput) { in.Controller.DPO.Email = "dpo@localhost" }, "controller.dpo.email"},
		{"DPO email with spaces", func(in *IncidentInput) { in.Controller.DPO.Email = " dpo@emploi.example" }, "controller.dpo.email"},
		{"DPO phone with letters", func(in *IncidentInput) { in.Controller.DPO.Phone = "call me" }, "controller.dpo.phone"},
		{"no data category", func(in *IncidentInput) { in.DataCategories = nil }, "data_categories"},
		{"unknown data category", func(in *IncidentInput) {
			in.DataCategories = []DataCategory{DataContact, "shoe_size"}
		}, "data_categories[1]"},
		{"duplicate data category", func(in *IncidentInput) {
			in.DataCategories = []DataCategory{DataContact, DataHealth, DataContact}
		}, "data_categories[2]"},
		{"unknown subject category", func(in *IncidentInput) {
			in.SubjectCategories = []SubjectCategory{"job_seekers", "aliens"}
		}, "subject_categories[1]"},
		{"negative subjects", func(in *IncidentInput) { in.ApproxSubjects = -1 }, "approx_subjects"},
		{"negative records", func(in *IncidentInput) { in.ApproxRecords = -5 }, "approx_records"},
		{"no breach type", func(in *IncidentInput) { in.BreachTypes = nil }, "breach_types"},
		{"unknown breach type", func(in *IncidentInput) { in.BreachTypes = []BreachType{"exposure"} }, "breach_types[0]"},
		{"cause missing", func(in *IncidentInput) { in.Cause = "" }, "cause"},
		{"unknown cause", func(in *IncidentInput) { in.Cause = "gremlins" }, "cause"},
		{"unknown regime", func(in *IncidentInput) { in.Regimes = []RegimeCode{"hipaa"} }, "regimes[0]"},
		{"duplicate regime", func(in *IncidentInput) { in.Regimes = []RegimeCode{RegimeNIS2, RegimeNIS2} }, "regimes[1]"},
		{"unknown ease", func(in *IncidentInput) { in.Circumstances.EaseOfIdentification = p(Ease("trivial")) }, "circumstances.ease_of_identification"},
		{"unknown recipients", func(in *IncidentInput) { in.Circumstances.Recipients = p(Recipients("everyone")) }, "circumstances.recipients"},
		{"unknown availability loss", func(in *IncidentInput) {
			in.Circumstances.AvailabilityLoss = p(AvailabilityLoss("partial"))
		}, "circumstances.availability_loss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validIncident()
			tt.mod(&in)
			err := in.Validate(now)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *breach.Error", err)
			}
			if e.Code != ErrInvalid || e.Field != tt.field {
				t.Fatalf("got code %s field %q (%v), want invalid %q", e.Code, e.Field, err, tt.field)
			}
			if ErrorCode(err) != ErrInvalid {
				t.Fatalf("ErrorCode = %s", ErrorCode(err))
			}
		})
	}
}

func TestIncidentValidationListsEveryProblem(t *testing.T) {
	in := validIncident()
	in.Title = ""
	in.Controller.SIREN = "123456789"
	in.DataCategories = []DataCategory{DataContact, "nope"}
	in.ApproxRecords = -1
	err := in.Validate(now)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not breach.Errors", err)
	}
	var fields []string
	for _, e := range es {
		fields = append(fields, e.Field)
	}
	want := "title controller.siren data_categories[1] approx_records"
	if got := strings.Join(fields, " "); got != want {
		t.Fatalf("fields = %s, want %s", got, want)
	}
	var first *Error
	if !errors.As(err, &first) || first.Field != "title" {
		t.Fatalf("errors.As finds %v, want the title error first", first)
	}
	if !strings.Contains(err.Error(), "title: required; controller.siren: ") {
		t.Fatalf("message: %s", err)
	}
}

func TestValidationMessagesCarryNoValues(t *testing.T) {
	in := validIncident()
	in.Controller.DPO.Email = "jean.secret@@example"
	in.Controller.SIREN = "SECRET123"
	in.Cause = "SECRETCAUSE"
	err := in.Validate(now)
	if err == nil || strings.Contains(strings.ToLower(err.Error()), "secret") {
		t.Fatalf("message repeats a value: %v", err)
	}
}

func TestSIREN(t *testing.T) {
	for s, want := range map[string]bool{
		"123456782":  true,
		"356000000":  true, // La Poste
		"123456789":  false,
		"000000000":  true,
		"12345678":   false,
		"1234567820": false,
		"１23456782":  false,
	} {
		if got := ValidSIREN(s); got != want {
			t.Errorf("ValidSIREN(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDraftFieldsValidate(t *testing.T) {
	valid := DraftFields{
		Language:      French,
		Nature:        "Exfiltration.",
		Consequences:  "Hameçonnage ciblé.",
		MeasuresTaken: "Comptes fermés.",
	}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid fields rejected: %v", err)
	}
	en := valid
	en.Language = English
	en.ContactPerson = &Contact{Name: "Ana Ruiz", Email: "ana.ruiz@emploi.example"}
	if err := en.Validate(); err != nil {
		t.Fatalf("valid English fields rejected: %v", err)
	}
	tests := []struct {
		name  string
		mod   func(*DraftFields)
		field string
	}{
		{"language missing", func(f *DraftFields) { f.Language = "" }, "language"},
		{"language unknown", func(f *DraftFields) { f.Language = "de" }, "language"},
		{"nature missing", func(f *DraftFields) { f.Nature = " " }, "nature"},
		{"consequences missing", func(f *DraftFields) { f.Consequences = "" }, "consequences"},
		{"measures taken missing", func(f *DraftFields) { f.MeasuresTaken = "" }, "measures_taken"},
		{"measures proposed too long", func(f *DraftFields) { f.MeasuresProposed = strings.Repeat("m", 50_001) }, "measures_proposed"},
		{"contact person without name", func(f *DraftFields) {
			f.ContactPerson = &Contact{Email: "a@b.example"}
		}, "contact_person.name"},
		{"contact person with a bad email", func(f *DraftFields) {
			f.ContactPerson = &Contact{Name: "A", Email: "nowhere"}
		}, "contact_person.email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid
			tt.mod(&f)
			var e *Error
			if err := f.Validate(); !errors.As(err, &e) || e.Field != tt.field || e.Code != ErrInvalid {
				t.Fatalf("got %v, want invalid %q", err, tt.field)
			}
		})
	}
}
