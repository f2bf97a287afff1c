package activities_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"mime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/templates"
)

// The monitoring's activities against Postgres and an SMTP server on
// loopback: reminder rounds through the ledger, alerts, reports.

// reminders adapts templates.Reminders (the engine's adapter, without the engine).
type reminders struct{}

func (reminders) RenderReminder(ctx context.Context, in activities.ReminderInput) (activities.RenderedLetter, error) {
	r, err := templates.Reminders{}.RenderReminder(ctx, templates.ReminderInput{Incident: in.Incident, Fields: in.Fields, Version: in.Version, Recipient: in.Recipient})
	return activities.RenderedLetter{Subject: r.Subject, HTML: r.HTML, Text: r.Text}, err
}

func (reminders) ContentHash(inc breach.Incident, f breach.ReminderFields, v int) string {
	return templates.ReminderContentHash(inc, f, v)
}

// opener stands in for the GDPR regime workflow's save_draft Update
// (engine.ComplementaryOpener, which needs a Temporal server): it records
// what it was asked, and refuses when refuse is set, as the regime does
// before the initial notification is filed.
type opener struct {
	calls  []string
	fields []breach.DraftFields
	refuse bool
}

func (o *opener) OpenComplementary(_ context.Context, incidentID, updateID string, f breach.DraftFields) (int, error) {
	o.calls = append(o.calls, updateID)
	o.fields = append(o.fields, f)
	if o.refuse {
		return 0, &breach.Error{Code: breach.ErrConflict, Field: "stage", Message: "stage complementary needs stage initial filed first"}
	}
	return len(o.calls) + 1, nil
}

type monitorFixture struct {
	a    *activities.Activities
	st   *store.Store
	inc  breach.Incident
	sink *smtptest.Server
	open *opener
}

func newMonitorFixture(t *testing.T, people int64) *monitorFixture {
	t.Helper()
	ctx := context.Background()
	a, _, inc := newEnv(t)
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	rows := func(yield func(store.PersonRow, error) bool) {
		for i := range people {
			if !yield(store.PersonRow{Line: i + 2, Email: fmt.Sprintf("person%d@example.org", i+1), Name: fmt.Sprintf("Person %d", i+1), Language: breach.French}, nil) {
				return
			}
		}
	}
	if _, err := a.Store.ImportPeople(ctx, dpo, inc.ID, iter.Seq2[store.PersonRow, error](rows), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// Everyone has an account whose reset was forced: the credential track's
	// rows and counters, as its reset batches leave them.
	if _, err := a.Store.Pool.Exec(ctx, `INSERT INTO account_resets (incident_id, person_id, state, done_at, account_index)
		SELECT $1, g, 'done', now(), int8send(g) FROM generate_series(1, $2::bigint) g`, inc.ID, people); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Pool.Exec(ctx, `INSERT INTO account_reset_counts (incident_id, shard, done) VALUES ($1, 0, $2)`, inc.ID, people); err != nil {
		t.Fatal(err)
	}
	sink := smtptest.Start(t, smtptest.Options{})
	a.Mail, err = mail.NewSender(mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: mail.TLSNone, From: "notifications@agence.example"})
	if err != nil {
		t.Fatal(err)
	}
	o := &opener{}
	a.Vault, a.Letters, a.Reminders, a.Reports, a.Complementary = v, &fakeLetters{hash: "h1"}, reminders{}, templates.Reports{}, o
	return &monitorFixture{a: a, st: a.Store, inc: inc, sink: sink, open: o}
}

func (f *monitorFixture) complete(t *testing.T, ids ...int64) {
	t.Helper()
	if _, err := f.st.Pool.Exec(context.Background(), `UPDATE account_resets SET completed_at = now() WHERE incident_id = $1 AND person_id = ANY($2::bigint[])`,
		f.inc.ID, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Pool.Exec(context.Background(), `UPDATE account_reset_counts SET completed = completed + $2 WHERE incident_id = $1 AND shard = 0`,
		f.inc.ID, len(ids)); err != nil {
		t.Fatal(err)
	}
}

// round runs reminder round n as the workflow does: start, seed, one batch.
func (f *monitorFixture) round(t *testing.T, n int) activities.ReminderRef {
	t.Helper()
	ctx := context.Background()
	ref, err := f.a.StartReminder(ctx, activities.StartReminderInput{OpKey: fmt.Sprintf("round-%d", n), IncidentID: f.inc.ID, Round: n, Partitions: 1, Policy: breach.PolicyResend})
	if err != nil {
		t.Fatalf("round %d: %v", n, err)
	}
	s := ref.Send
	if _, err := f.a.SeedLedger(ctx, activities.SeedInput{OpKey: fmt.Sprintf("seed-%d", n), IncidentID: f.inc.ID, SendID: s.ID, Letters: s.Letters,
		From: s.MinPerson, To: s.MaxPerson, Round: n}); err != nil {
		t.Fatal(err)
	}
	res, err := f.a.SendBatch(ctx, activities.SendBatchInput{IncidentID: f.inc.ID, SendID: s.ID, Letters: []string{s.Letters[0].ID}, Policy: breach.PolicyResend,
		From: s.MinPerson, To: s.MaxPerson, Cursor: s.MinPerson, Limit: 1000, Chunk: 3, Round: n})
	if err != nil || res.Sent != int(ref.People) {
		t.Fatalf("round %d batch: %+v %v (people %d)", n, res, err, ref.People)
	}
	// Its partitions ended: the workflow records the send completed.
	if err := f.a.SetSendState(ctx, activities.SendStateInput{OpKey: fmt.Sprintf("round-%d/completed", n), IncidentID: f.inc.ID,
		SendID: s.ID, Actor: breach.System, State: breach.SendCompleted}); err != nil {
		t.Fatal(err)
	}
	return ref
}

// recipients lists who got messages whose Message-ID starts with prefix.
func (f *monitorFixture) recipients(prefix string) []string {
	var out []string
	for _, m := range f.sink.Messages() {
		if strings.HasPrefix(m.MessageID, prefix) {
			out = append(out, m.To...)
		}
	}
	slices.Sort(out)
	return out
}

// emails are the addresses of the people with these IDs, sorted.
func (f *monitorFixture) emails(t *testing.T, ids ...int64) []string {
	t.Helper()
	rs, err := f.st.Recipients(context.Background(), f.a.Vault, f.inc.ID, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if slices.Contains(ids, r.PersonID) {
			out = append(out, r.Email)
		}
	}
	slices.Sort(out)
	return out
}

func TestReminderRoundsSendThroughTheLedger(t *testing.T) {
	ctx := context.Background()
	f := newMonitorFixture(t, 5)
	// Due without an approved reminder: refused, nothing recorded, and the
	// same operation key works once one is approved.
	_, err := f.a.StartReminder(ctx, activities.StartReminderInput{OpKey: "round-1", IncidentID: f.inc.ID, Round: 1, Partitions: 1, Policy: breach.PolicyResend})
	var be *breach.Error
	if !errors.As(err, &be) || be.Field != "letters" {
		t.Fatalf("start without a letter: %v", err)
	}
	fields := breach.ReminderFields{Language: breach.French, Subject: "Rappel", HowToReset: "Tapez l'adresse du site."}
	ref, err := f.a.SaveReminder(ctx, activities.SaveReminderInput{OpKey: "save", IncidentID: f.inc.ID, Language: breach.French, Actor: dpo, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if ref.ContentHash != templates.ReminderContentHash(f.inc, fields, 1) {
		t.Fatalf("content hash %q", ref.ContentHash)
	}
	if err := f.a.DecideLetter(ctx, activities.DecideLetterInput{OpKey: "decide", IncidentID: f.inc.ID, LetterID: ref.ID, Actor: dpo, Approve: true}); err == nil {
		t.Fatal("the drafter approved the reminder")
	}
	if err := f.a.DecideLetter(ctx, activities.DecideLetterInput{OpKey: "decide-2", IncidentID: f.inc.ID, LetterID: ref.ID, Actor: approver, Approve: true}); err != nil {
		t.Fatal(err)
	}
	f.complete(t, 1)
	if r := f.round(t, 1); r.People != 4 {
		t.Errorf("round 1 for %d people, want 4", r.People)
	}
	f.complete(t, 2, 3)
	if r := f.round(t, 2); r.People != 2 {
		t.Errorf("round 2 for %d people, want 2", r.People)
	}
	if got, want := f.recipients("<reminder1."), f.emails(t, 2, 3, 4, 5); !slices.Equal(got, want) {
		t.Errorf("reminder 1 to %v, want %v", got, want)
	}
	if got, want := f.recipients("<reminder2."), f.emails(t, 4, 5); !slices.Equal(got, want) {
		t.Errorf("reminder 2 to %v, want %v", got, want)
	}
	if d := f.sink.Duplicates(); len(d) != 0 {
		t.Errorf("Message-IDs sent twice: %v", d)
	}
	m := f.sink.Messages()[0]
	if !strings.Contains(string(m.Raw), "Rappel") || m.Header("Reply-To") == "" {
		t.Errorf("reminder message: %s", m.Raw)
	}
}

func crossing() *breach.Crossing {
	from := time.Date(2026, 3, 12, 9, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	return &breach.Crossing{Kind: breach.SignalSuspiciousLogin, Window: 10, From: &from, To: &to, Observed: 130, Threshold: 100}
}

func TestRaiseAlertMailsTheDPOAndOpensADraftOnce(t *testing.T) {
	ctx := context.Background()
	f := newMonitorFixture(t, 1)
	in := activities.AlertInput{OpKey: "alert-1", IncidentID: f.inc.ID, Kind: breach.AlertThreshold, Crossing: crossing()}
	ref, err := f.a.RaiseAlert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !ref.Mailed || ref.DraftSeq == nil || *ref.DraftSeq != 2 {
		t.Errorf("alert %+v", ref)
	}
	// A retry (Temporal runs an activity at least once) does nothing again.
	if _, err := f.a.RaiseAlert(ctx, in); err != nil {
		t.Fatal(err)
	}
	if f.sink.Count() != 1 || len(f.open.calls) != 1 {
		t.Fatalf("%d mails, %d drafts opened, want 1 and 1", f.sink.Count(), len(f.open.calls))
	}
	m := f.sink.Messages()[0]
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header("Subject"))
	if !slices.Equal(m.To, []string{dpoEmail}) || !strings.Contains(subject, "suspicious_login") || !strings.HasPrefix(m.MessageID, "<alert.") {
		t.Errorf("mail to %v: %s %s", m.To, subject, m.MessageID)
	}
	if got := f.open.calls[0]; got != "monitoring/alert/"+ref.ID {
		t.Errorf("update ID %q", got)
	}
	if fl := f.open.fields[0]; !strings.Contains(fl.Nature, "130") || !strings.Contains(fl.Nature, "33") || fl.Language != breach.French {
		t.Errorf("draft fields %+v", fl)
	}
	alerts, err := f.st.Alerts(ctx, f.inc.ID)
	if err != nil || len(alerts) != 1 || alerts[0].MailedAt == nil || alerts[0].DraftSeq == nil || alerts[0].Key != "threshold/suspicious_login/10" {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
	// Another crossing, while the regime refuses a complementary draft: the
	// alert says why.
	f.open.refuse = true
	c := crossing()
	c.Window = 11
	ref, err = f.a.RaiseAlert(ctx, activities.AlertInput{OpKey: "alert-2", IncidentID: f.inc.ID, Kind: breach.AlertThreshold, Crossing: c})
	if err != nil || ref.DraftSeq != nil {
		t.Fatalf("refused draft: %+v %v", ref, err)
	}
	alerts, _ = f.st.Alerts(ctx, f.inc.ID)
	if len(alerts) != 2 || !strings.Contains(alerts[1].DraftError, "initial") {
		t.Errorf("alerts %+v", alerts)
	}
	log, err := f.st.AuditLog(ctx, f.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range log {
		if strings.HasPrefix(r.Action, "monitoring.") {
			actions = append(actions, r.Action)
		}
	}
	want := []string{"monitoring.alert", "monitoring.alert_mailed", "monitoring.alert_draft", "monitoring.alert", "monitoring.alert_mailed", "monitoring.alert_draft"}
	if !slices.Equal(actions, want) {
		t.Errorf("audited %v, want %v", actions, want)
	}
}

func TestWriteReportStoresItsHashAndMailsItOnce(t *testing.T) {
	ctx := context.Background()
	f := newMonitorFixture(t, 3)
	f.complete(t, 1)
	start := time.Now().UTC().Add(-7 * 24 * time.Hour).Truncate(time.Second)
	in := activities.ReportInput{OpKey: "report-1", IncidentID: f.inc.ID, Seq: 1, From: start, To: start.Add(7 * 24 * time.Hour),
		Start: start, End: start.Add(90 * 24 * time.Hour)}
	ref, err := f.a.WriteReport(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.WriteReport(ctx, in); err != nil {
		t.Fatal(err)
	}
	if !ref.Mailed || f.sink.Count() != 1 {
		t.Fatalf("report %+v, %d mails", ref, f.sink.Count())
	}
	rep, html, err := f.st.ReportHTML(ctx, f.inc.ID, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(html)
	if rep.ContentHash != hex.EncodeToString(sum[:]) || rep.MailedAt == nil || rep.Final {
		t.Errorf("report %+v", rep)
	}
	if r := rep.Summary.Resets; r.Total() != 3 || r.Completed != 1 || r.Done != 3 {
		t.Errorf("resets %+v", r)
	}
	if m := f.sink.Messages()[0]; !slices.Equal(m.To, []string{dpoEmail}) || m.MessageID != fmt.Sprintf("<report.%s.p0.v1@agence.example>", f.inc.ID) {
		t.Errorf("report mailed to %v as %s", m.To, m.MessageID)
	}
}
