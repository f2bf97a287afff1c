package breach

import (
	"slices"
	"strings"
	"unicode"
)

// LetterFields are what the drafter writes for the letter to the people
// concerned (GDPR Art. 34), in one language. Everything else in the letter
// comes from the incident (the controller, its DPO, the data categories
// concerned and, by difference with DataCategories, those not concerned) or is
// fixed text of the letter in that language (the advice to the people, the
// victim-assistance site, the right to complain to the CNIL).
//
// Art. 34(2): the letter describes in clear and plain language the nature of
// the breach and gives at least the DPO's contact (Art. 33(3)(b)), the likely
// consequences (Art. 33(3)(c)) and the measures taken or proposed, including to
// mitigate their possible adverse effects (Art. 33(3)(d)).
type LetterFields struct {
	Language Language `json:"language"`
	// Subject is the email's subject line: one line of text.
	Subject string `json:"subject"`
	// WhatHappened is the nature of the breach in plain words, for people who
	// are not specialists (Art. 34(2)). Blank lines separate paragraphs.
	WhatHappened string `json:"what_happened"`
	// Consequences are the likely consequences for the person (Art. 33(3)(c)).
	Consequences string `json:"consequences"`
	// MeasuresTaken is what the controller has done and will do (Art. 33(3)(d)).
	MeasuresTaken string `json:"measures_taken"`
	// PasswordReset states, in the letter's own words, that the passwords of
	// the accounts were reset by force and that the person will choose a new
	// one at their next sign-in. Required when credentials are concerned
	// (ValidateFor).
	PasswordReset bool `json:"password_reset"`
	// Advice is extra advice, after the letter's fixed advice (change reused
	// passwords, beware of phishing, watch bank and health-insurance
	// statements, cybermalveillance.gouv.fr).
	Advice string `json:"advice,omitempty"`
	// Helpline is a telephone number set up for the people concerned, if any,
	// and HelplineHours when it answers ("Monday to Friday, 9 am to 6 pm").
	Helpline      string `json:"helpline,omitempty"`
	HelplineHours string `json:"helpline_hours,omitempty"`
	// ComplaintFiled says, in one sentence, that a complaint was filed (with
	// whom, when); empty: the letter says nothing about it.
	ComplaintFiled string `json:"complaint_filed,omitempty"`
	// AuthoritiesNotified says, in one sentence, which authorities were
	// notified (the CNIL, ANSSI...); empty: nothing is said.
	AuthoritiesNotified string `json:"authorities_notified,omitempty"`
}

// maxSubject bounds the subject line; mail clients show far less.
const maxSubject = 200

// Validate checks what the drafter wrote, on its own: the language, a
// one-line subject, the texts required by Art. 34(2), and the optional lines.
// It returns nil or Errors, each naming its JSON field; messages never quote
// the values.
func (f LetterFields) Validate() error {
	var es Errors
	if f.Language == "" {
		es = append(es, Invalid("language", "required (%s)", list([]Language{French, English})))
	} else if f.Language != French && f.Language != English {
		es = append(es, Invalid("language", "unknown value; expected one of %s", list([]Language{French, English})))
	}
	required(&es, "subject", f.Subject, maxSubject)
	oneLine(&es, "subject", f.Subject)
	required(&es, "what_happened", f.WhatHappened, maxLongText) // Art. 34(2): the nature
	required(&es, "consequences", f.Consequences, maxLongText)  // Art. 33(3)(c)
	required(&es, "measures_taken", f.MeasuresTaken, maxLongText)
	textLimit(&es, "advice", f.Advice, maxLongText)
	if f.Helpline != "" && !validPhone(f.Helpline) {
		es = append(es, Invalid("helpline", "not a valid telephone number (digits, spaces, + . - ( ))"))
	}
	textLimit(&es, "helpline_hours", f.HelplineHours, maxShortText)
	oneLine(&es, "helpline_hours", f.HelplineHours)
	if f.HelplineHours != "" && f.Helpline == "" {
		es = append(es, Invalid("helpline_hours", "given without a helpline number"))
	}
	textLimit(&es, "complaint_filed", f.ComplaintFiled, maxShortText*2)
	textLimit(&es, "authorities_notified", f.AuthoritiesNotified, maxShortText*2)
	return es.Err()
}

// ValidateFor checks the fields against the incident they are written for:
// Validate, and when credentials are among the data concerned the letter must
// state the forced password reset (the credential track resets them all).
func (f LetterFields) ValidateFor(in IncidentInput) error {
	var es Errors
	if err := f.Validate(); err != nil {
		es = append(es, err.(Errors)...)
	}
	if slices.Contains(in.DataCategories, DataCredentials) && !f.PasswordReset {
		es = append(es, Invalid("password_reset", "credentials are among the data concerned: the letter must state the forced password reset"))
	}
	return es.Err()
}

// LetterDataCategories splits DataCategories into those the incident concerns
// and those it does not, both in the order of DataCategories: the letter lists
// both (what was exposed and what was not). Unknown values are ignored.
func LetterDataCategories(concerned []DataCategory) (in, out []DataCategory) {
	for _, c := range DataCategories {
		if slices.Contains(concerned, c) {
			in = append(in, c)
		} else {
			out = append(out, c)
		}
	}
	return in, out
}

// oneLine refuses control characters (CR and LF among them) in a text that
// must stay on one line, such as a mail subject.
func oneLine(es *Errors, field, s string) {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		*es = append(*es, Invalid(field, "must be a single line without control characters"))
	}
}
