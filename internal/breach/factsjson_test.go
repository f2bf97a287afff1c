package breach

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFactsFullDocument(t *testing.T) {
	doc := `{"breach_types":["confidentiality","integrity","availability"],
	 "data_categories":["identification","contact","official_id","credentials","financial","health","special_category","behavioural","location","employment","minors"],
	 "subjects":4800000,
	 "ease_of_identification":"maximum",
	 "recipients":"unknown",
	 "integrity_recoverable":true,
	 "availability_loss":"temporary",
	 "malicious":true,
	 "data_unintelligible":false,
	 "vulnerable_subjects":false,
	 "backup_available":true}
	`
	f, err := ParseFacts(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Facts{
		BreachTypes:          BreachTypes,
		DataCategories:       DataCategories,
		Subjects:             p(int64(4_800_000)),
		EaseOfIdentification: p(EaseMaximum),
		Recipients:           p(RecipientsUnknown),
		IntegrityRecoverable: p(true),
		AvailabilityLoss:     p(AvailabilityTemporary),
		Malicious:            p(true),
		DataUnintelligible:   p(false),
		VulnerableSubjects:   p(false),
		BackupAvailable:      p(true),
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v\nwant %+v", f, want)
	}
}

func TestParseFactsAbsentAndNullAreUnknown(t *testing.T) {
	f, err := ParseFacts(strings.NewReader(`{"malicious":true,"subjects":null,"breach_types":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Subjects != nil || f.BreachTypes != nil || f.Malicious == nil || !*f.Malicious {
		t.Fatalf("got %+v", f)
	}
	// The motivating case, as the CLI would read it.
	f, err = ParseFacts(strings.NewReader(`{"breach_types":["confidentiality"],
		"data_categories":["identification","contact","employment","health","credentials"],
		"subjects":4800000,"ease_of_identification":"maximum","recipients":"unknown","malicious":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if a := Assess(f); a.ENISA.Band != BandVeryHigh || a.Risk != RiskHigh {
		t.Fatalf("motivating case: %+v", a)
	}
}

func TestParseFactsErrors(t *testing.T) {
	tests := []struct {
		name, doc, field, msg string
	}{
		{"empty input", ``, "", "empty document"},
		{"whitespace", " \n\t ", "", "empty document"},
		{"empty object", `{}`, "", "empty document"},
		{"null", `null`, "", "empty document"},
		{"array", `["confidentiality"]`, "", "must be a JSON object"},
		{"string", `"facts"`, "", "must be a JSON object"},
		{"malformed", `{"malicious":tru}`, "", "malformed JSON"},
		{"truncated", `{"malicious":true`, "", "malformed JSON"},
		{"trailing object", `{"malicious":true} {}`, "", "trailing data"},
		{"trailing garbage", `{"malicious":true} x`, "", "trailing data"},
		{"unknown field", `{"malicious":true,"colour":"red"}`, "colour", "unknown field"},
		{"field twice", `{"malicious":true,"malicious":false}`, "malicious", "given twice"},
		{"subjects as a string", `{"subjects":"4800000"}`, "subjects", "not a string"},
		{"subjects as a fraction", `{"subjects":4.8e6}`, "subjects", "whole number"},
		{"subjects negative", `{"subjects":-3}`, "subjects", "at least 1"},
		{"subjects zero", `{"subjects":0}`, "subjects", "at least 1"},
		{"subjects too large", `{"subjects":99999999999999999999}`, "subjects", "whole number"},
		{"boolean as a string", `{"malicious":"yes"}`, "malicious", "true or false"},
		{"boolean as a number", `{"backup_available":1}`, "backup_available", "true or false"},
		{"list not an array", `{"breach_types":"confidentiality"}`, "breach_types", "array of strings"},
		{"list item not a string", `{"data_categories":["contact",7]}`, "data_categories[1]", "must be a string"},
		{"list item null", `{"data_categories":["contact",null]}`, "data_categories[1]", "must be a string"},
		{"empty list", `{"breach_types":[]}`, "breach_types", "at least one"},
		{"unknown category", `{"data_categories":["contact","health","shoe_size"]}`, "data_categories[2]", "unknown value"},
		{"duplicate category", `{"data_categories":["contact","health","contact"]}`, "data_categories[2]", "duplicate of data_categories[0]"},
		{"unknown breach type", `{"breach_types":["leak"]}`, "breach_types[0]", "unknown value"},
		{"unknown ease", `{"ease_of_identification":"easy"}`, "ease_of_identification", "negligible, limited, significant, maximum"},
		{"unknown recipients", `{"recipients":"some"}`, "recipients", "unknown value"},
		{"unknown availability loss", `{"availability_loss":"partial"}`, "availability_loss", "unknown value"},
		{"enum as a number", `{"recipients":2}`, "recipients", "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFacts(strings.NewReader(tt.doc))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *breach.Error", err)
			}
			if e.Code != ErrInvalid || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("got code %s field %q message %q; want invalid %q containing %q", e.Code, e.Field, e.Message, tt.field, tt.msg)
			}
		})
	}
}
