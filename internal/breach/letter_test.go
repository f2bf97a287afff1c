package breach

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func validLetter() LetterFields {
	return LetterFields{
		Language:      French,
		Subject:       "Information importante : vos données personnelles",
		WhatHappened:  "Des dossiers ont été copiés par un attaquant.",
		Consequences:  "Des messages frauduleux pourraient vous être adressés.",
		MeasuresTaken: "Accès coupé, plainte déposée.",
		PasswordReset: true,
		Helpline:      "+33 9 70 00 00 00",
		HelplineHours: "du lundi au vendredi, de 9 h à 18 h",
	}
}

func TestLetterFieldsValidate(t *testing.T) {
	if err := validLetter().Validate(); err != nil {
		t.Fatalf("valid letter refused: %v", err)
	}
	en := validLetter()
	en.Language = English
	if err := en.Validate(); err != nil {
		t.Fatalf("valid English letter refused: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*LetterFields)
		field string
	}{
		{"language missing", func(f *LetterFields) { f.Language = "" }, "language"},
		{"language unknown", func(f *LetterFields) { f.Language = "de" }, "language"},
		{"subject missing", func(f *LetterFields) { f.Subject = " " }, "subject"},
		{"subject with CRLF", func(f *LetterFields) { f.Subject = "Hello\r\nBcc: victim@example.org" }, "subject"},
		{"subject too long", func(f *LetterFields) { f.Subject = strings.Repeat("x", 201) }, "subject"},
		{"what happened missing", func(f *LetterFields) { f.WhatHappened = "" }, "what_happened"},
		{"consequences missing", func(f *LetterFields) { f.Consequences = "\n" }, "consequences"},
		{"measures missing", func(f *LetterFields) { f.MeasuresTaken = "" }, "measures_taken"},
		{"helpline not a number", func(f *LetterFields) { f.Helpline = "call us" }, "helpline"},
		{"hours without helpline", func(f *LetterFields) { f.Helpline = "" }, "helpline_hours"},
		{"hours on two lines", func(f *LetterFields) { f.HelplineHours = "9h\n18h" }, "helpline_hours"},
		{"advice not UTF-8", func(f *LetterFields) { f.Advice = "\xff" }, "advice"},
		{"complaint too long", func(f *LetterFields) { f.ComplaintFiled = strings.Repeat("é", 1001) }, "complaint_filed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := validLetter()
			c.edit(&f)
			err := f.Validate()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted or not a domain error: %v", err)
			}
			if e.Field != c.field || e.Code != ErrInvalid {
				t.Errorf("first error %v, want field %q", e, c.field)
			}
			if strings.Contains(err.Error(), "victim@example.org") {
				t.Errorf("error quotes the value: %v", err)
			}
		})
	}
}

func TestLetterFieldsValidateFor(t *testing.T) {
	in := IncidentInput{DataCategories: []DataCategory{DataIdentification, DataCredentials}}
	f := validLetter()
	if err := f.ValidateFor(in); err != nil {
		t.Fatal(err)
	}
	f.PasswordReset = false
	var e *Error
	if err := f.ValidateFor(in); !errors.As(err, &e) || e.Field != "password_reset" {
		t.Errorf("credentials without the reset: %v", err)
	}
	in.DataCategories = []DataCategory{DataIdentification}
	if err := f.ValidateFor(in); err != nil {
		t.Errorf("no credentials, no reset needed: %v", err)
	}
	f.Subject = ""
	if err := f.ValidateFor(in); !errors.As(err, &e) || e.Field != "subject" {
		t.Errorf("ValidateFor skips Validate: %v", err)
	}
}

func TestLetterDataCategories(t *testing.T) {
	in, out := LetterDataCategories([]DataCategory{DataHealth, DataIdentification, "nonsense"})
	if !slices.Equal(in, []DataCategory{DataIdentification, DataHealth}) {
		t.Errorf("concerned %v", in)
	}
	if len(in)+len(out) != len(DataCategories) || slices.Contains(out, DataHealth) || !slices.Contains(out, DataFinancial) {
		t.Errorf("not concerned %v", out)
	}
}
