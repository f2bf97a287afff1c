package templates

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"text/template"

	"github.com/breach-engine/breach/internal/breach"
)

// The reminder to a person whose forced password reset is still pending
// (the follow-up of DESIGN.md track 5, a measure to mitigate the breach's
// possible adverse effects, Art. 33(3)(d) and 34(2)): an HTML body from templ
// (reminder.templ) and a plain-text part from text/template
// (reminder_text.tmpl), both pure functions of one ReminderView. Like the
// notice it has no link: it names the address to type.

// ReminderInput is everything one reminder is rendered from.
type ReminderInput struct {
	Incident  breach.Incident
	Fields    breach.ReminderFields
	Version   int
	Recipient breach.Recipient
}

// ReminderView is the reminder as the person reads it, every text cleaned.
type ReminderView struct {
	Language   breach.Language
	Subject    string
	Greeting   string
	Pending    string   // the reset is still pending, in plain words
	HowHeading string   // how to do it
	How        []string // the drafter's steps
	Phishing   Block    // the phishing warning
	Contact    ContactBlock
	Closing    string
	Signature  string
	NoLinks    string
	Reference  string
}

// NewReminderView builds the reminder's view model; pure. It fails when the
// fields do not validate.
func NewReminderView(in ReminderInput) (ReminderView, error) {
	f := in.Fields
	if err := f.Validate(); err != nil {
		return ReminderView{}, err
	}
	l, ok := letterLabelsFor(f.Language)
	if !ok {
		return ReminderView{}, breach.Invalid("language", "unknown value; expected fr or en")
	}
	r := reminderLabelsFor(f.Language)
	inc := in.Incident
	org := cleanLine(inc.Controller.Name, maxNameRunes)
	v := ReminderView{
		Language:   l.lang,
		Subject:    cleanLine(f.Subject, 1000),
		Pending:    fmt.Sprintf(r.pending, org),
		HowHeading: r.howHead,
		How:        paragraphs(f.HowToReset),
		Phishing:   Block{Heading: r.phishingHead, Paragraphs: []string{fmt.Sprintf(r.phishing, org), r.phishingNever}},
		Closing:    r.closing,
		Signature:  org,
		NoLinks:    l.noLinks,
	}
	if name := cleanLine(in.Recipient.Name, maxNameRunes); name != "" {
		v.Greeting = fmt.Sprintf(l.greeting, name)
	} else {
		v.Greeting = l.greetingPlain
	}
	ref := cleanLine(inc.Reference, maxNameRunes)
	if ref == "" {
		ref = cleanLine(inc.ID, maxNameRunes)
	}
	v.Reference = fmt.Sprintf(r.reference, ref, in.Version)
	v.Contact = contactBlock(l, inc.Controller.DPO, f.Helpline, f.HelplineHours)
	return v, nil
}

// Reminders renders reminders. It holds no state.
type Reminders struct{}

// RenderReminder renders the reminder for one person. The same input renders
// the same bytes.
func (Reminders) RenderReminder(ctx context.Context, in ReminderInput) (RenderedLetter, error) {
	v, err := NewReminderView(in)
	if err != nil {
		return RenderedLetter{}, err
	}
	var h, t bytes.Buffer
	if err := reminderHTML(v).Render(ctx, &h); err != nil {
		return RenderedLetter{}, fmt.Errorf("render reminder html: %w", err)
	}
	if err := reminderText.Execute(&t, v); err != nil {
		return RenderedLetter{}, fmt.Errorf("render reminder text: %w", err)
	}
	return RenderedLetter{Subject: v.Subject, HTML: h.Bytes(), Text: t.Bytes()}, nil
}

// ReminderContentHash is the hash of an approved reminder version's content,
// as LetterContentHash is the notice's: computed on the rendering for
// PreviewRecipient, under a domain tag of its own.
func ReminderContentHash(incident breach.Incident, fields breach.ReminderFields, version int) string {
	r, err := Reminders{}.RenderReminder(context.Background(), ReminderInput{
		Incident: incident, Fields: fields, Version: version, Recipient: PreviewRecipient(fields.Language),
	})
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte("breach/reminder/v1\n"))
	for _, part := range [][]byte{[]byte(r.Subject), r.HTML, r.Text} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

//go:embed reminder_text.tmpl
var reminderTextSource string

var reminderText = template.Must(template.New("reminder_text.tmpl").Funcs(template.FuncMap{
	"para":    func(s string) string { return wrap(s, "", "") + "\n" },
	"item":    func(s string) string { return wrap(s, "  - ", "    ") },
	"line":    func(s string) string { return wrap(s, "", "") },
	"indent":  func(s string) string { return wrap(s, "  ", "    ") },
	"heading": heading,
}).Parse(reminderTextSource))

// reminderLabels are the reminder's fixed texts in one language; the
// greeting, the contact block and the no-link notice are the notice's.
type reminderLabels struct {
	pending       string // %s: the controller
	howHead       string
	phishingHead  string
	phishing      string // %s: the controller
	phishingNever string
	closing       string
	reference     string // %s: the incident reference, %d: the version
}

var reminderFR = reminderLabels{
	pending: "Nous vous avons informé récemment d'un incident de sécurité chez %s et demandé de choisir un " +
		"nouveau mot de passe. Votre réinitialisation de mot de passe n'est pas encore faite\u00a0: tant qu'elle " +
		"ne l'est pas, vous ne pouvez pas vous connecter à votre compte.",
	howHead:      "Comment faire",
	phishingHead: "Attention aux messages frauduleux",
	phishing: "Des fraudeurs peuvent se faire passer pour %s en citant vos informations personnelles. " +
		"Tapez vous-même l'adresse du site\u00a0: ne suivez pas un lien reçu par courriel ou SMS.",
	phishingNever: "Nous ne vous demanderons jamais votre mot de passe, par courriel, par SMS ni par téléphone.",
	closing:       "Merci de faire cette démarche dès que possible.",
	reference:     "Référence de l'incident\u00a0: %s. Rappel, version %d de ce courrier.",
}

var reminderEN = reminderLabels{
	pending: "We recently told you about a security incident at %s and asked you to choose a new password. " +
		"Your password reset is still pending: until you complete it, you cannot sign in to your account.",
	howHead:      "How to do it",
	phishingHead: "Beware of fake messages",
	phishing: "Fraudsters may pretend to be %s and quote your personal details. Type the site's address " +
		"yourself: do not follow a link received by email or text message.",
	phishingNever: "We will never ask for your password, by email, text message or telephone.",
	closing:       "Please do this as soon as you can.",
	reference:     "Incident reference: %s. Reminder, version %d of this letter.",
}

func reminderLabelsFor(l breach.Language) *reminderLabels {
	if l == breach.English {
		return &reminderEN
	}
	return &reminderFR
}
