package e2e

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// senderAddress is the From of the letters in the tests.
const senderAddress = "Agence <notifications@agence.example>"

// sendEnv is an engine with the people track wired: a vault for contact
// data, a relay (smtptest), and workers for the main and the delivery task
// queues.
type sendEnv struct {
	*env
	sink     *smtptest.Server
	vault    *vault.Vault
	dataKey  string
	incident string
}

// newSendEnv starts the engine against the sink; workers says how many
// worker pairs (main + delivery) run, each with its own identity.
func newSendEnv(t *testing.T, sink *smtptest.Server, workers int, tune ...func(*mail.Config)) *sendEnv {
	t.Helper()
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	dataKey := codec.NewKeySpec()
	vlt, err := vault.FromSpec(dataKey)
	if err != nil {
		t.Fatal(err)
	}
	mc := mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: mail.TLSNone, From: senderAddress, Connections: 16}
	for _, f := range tune {
		f(&mc)
	}
	mailer, err := mail.NewSender(mc)
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{
		Store: st, Temporal: tc, Codec: cdc, TaskQueue: testenv.TaskQueue(t),
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), Vault: vlt, Mailer: mailer,
	}
	for i := range workers {
		acts := e.Activities()
		acts.Identity = fmt.Sprintf("worker-%c", 'a'+i)
		testenv.Worker(t, tc, e.TaskQueue, func(r worker.Registry) { engine.Register(r, acts) })
		testenv.Worker(t, tc, workflows.DeliveryTaskQueue(e.TaskQueue), func(r worker.Registry) { r.RegisterActivity(acts) })
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	v := &env{t: t, store: st, engine: e, baseURL: srv.URL, tokens: map[string]string{}, users: map[string]store.User{}}
	for _, u := range []struct {
		name string
		role breach.Role
	}{{"dpo", breach.RoleDPO}, {"approver", breach.RoleApprover}, {"approver2", breach.RoleApprover}, {"auditor", breach.RoleAuditor}} {
		user, err := st.CreateUser(context.Background(), breach.System, store.NewUser{
			Username: u.name, DisplayName: u.name, Role: u.role, PasswordHash: auth.HashPassword("correct horse battery staple"),
		})
		if err != nil {
			t.Fatal(err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(context.Background(), breach.System, user.ID, "e2e", hash); err != nil {
			t.Fatal(err)
		}
		v.tokens[u.name], v.users[u.name] = token, user
	}
	return &sendEnv{env: v, sink: sink, vault: vlt, dataKey: dataKey}
}

// openIncident opens the motivating incident, assessed high, with n
// generated people imported through the import use case.
func (v *sendEnv) openIncident(n int, seed int64) {
	v.t.Helper()
	var inc breach.Incident
	in := motivatingIncident(time.Now())
	in.Reference = fmt.Sprintf("send-%d", time.Now().UnixNano())
	v.do("dpo", "POST", "/api/v1/incidents", in, &inc)
	v.incident = inc.ID
	var assessed activities.AssessResult
	v.do("dpo", "POST", v.path("assessment"), workflows.AssessUpdate{Reason: "health data of millions, malicious"}, &assessed)
	if assessed.Decided != breach.RiskHigh {
		v.t.Fatalf("assessment %+v", assessed)
	}
	var file bytes.Buffer
	if err := people.Generate(&file, n, seed, people.CSV); err != nil {
		v.t.Fatal(err)
	}
	res, err := v.engine.App().ImportPeople(context.Background(), v.users["dpo"].Actor(), inc.ID, &file, app.ImportPeopleInput{})
	if err != nil {
		v.t.Fatalf("import: %v", err)
	}
	if res.Loaded != int64(n) {
		v.t.Fatalf("import loaded %d of %d", res.Loaded, n)
	}
}

func (v *sendEnv) path(rest ...string) string {
	return "/api/v1/incidents/" + v.incident + "/" + strings.Join(rest, "/")
}

func sendLetterFields(lang breach.Language) breach.LetterFields {
	f := breach.LetterFields{Language: lang, PasswordReset: true,
		Subject:       "Incident de sécurité : vos données personnelles",
		WhatHappened:  "Des données de demandeurs d'emploi ont été copiées par un tiers.\n\nNous l'avons découvert le 2 mars.",
		Consequences:  "Des messages frauduleux pourraient vous être adressés.",
		MeasuresTaken: "Le compte utilisé a été désactivé et une plainte déposée.",
		Helpline:      "+33 1 23 45 67 89", HelplineHours: "du lundi au vendredi, de 9 h à 18 h",
	}
	if lang == breach.English {
		f.Subject = "Security incident: your personal data"
		f.WhatHappened = "Records of job seekers were copied by a third party.\n\nWe found out on 2 March."
		f.Consequences = "You may receive fraudulent messages."
		f.MeasuresTaken = "The account used was disabled and a complaint filed."
		f.HelplineHours = "Monday to Friday, 9 am to 6 pm"
	}
	return f
}

// approveLetters has the DPO draft both letters and an approver approve
// them, checking four-eyes on the way.
func (v *sendEnv) approveLetters() {
	v.t.Helper()
	for _, lang := range []breach.Language{breach.French, breach.English} {
		var ref activities.LetterRef
		v.do("dpo", "POST", v.path("letters"), workflows.SaveLetterUpdate{Language: lang, Fields: sendLetterFields(lang)}, &ref)
		if ref.Version != 1 || ref.ContentHash == "" {
			v.t.Fatalf("letter %+v", ref)
		}
		// The approver edits it (version 2) and may then not approve it.
		f := sendLetterFields(lang)
		f.Advice = "Ne communiquez jamais votre mot de passe."
		v.do("approver", "POST", v.path("letters"), workflows.SaveLetterUpdate{Language: lang, BaseVersion: 1, Fields: f}, &ref)
		decide := func(version int) workflows.DecideLetterUpdate {
			return workflows.DecideLetterUpdate{Language: lang, Version: version, Approve: true, Comment: "ok"}
		}
		v.refused("dpo", "POST", v.path("letters", "decisions"), decide(2), breach.ErrForbidden)
		v.refused("approver", "POST", v.path("letters", "decisions"), decide(2), breach.ErrForbidden)
		v.refused("approver2", "POST", v.path("letters", "decisions"), decide(1), breach.ErrConflict)
		v.do("approver2", "POST", v.path("letters", "decisions"), decide(2), nil)
	}
}

// startSend starts the send as the DPO.
func (v *sendEnv) startSend(opts workflows.SendOptions) workflows.SendStatus {
	v.t.Helper()
	var st workflows.SendStatus
	v.do("dpo", "POST", v.path("people", "send"), workflows.StartSendUpdate{Options: opts}, &st)
	return st
}

// waitDone polls the status until the send is completed.
func (v *sendEnv) waitDone(timeout time.Duration) app.PeopleStatus {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	var st app.PeopleStatus
	for {
		v.do("auditor", "GET", v.path("people", "status"), nil, &st)
		if st.Send != nil && st.Send.State == breach.SendCompleted {
			return st
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("send not done after %s: %+v (sink has %d messages)", timeout, st.Counts, v.sink.Count())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// recipients opens every person of the incident, as the batches do.
func (v *sendEnv) recipients(n int) []breach.Recipient {
	v.t.Helper()
	rs, err := v.store.Recipients(context.Background(), v.vault, v.incident, 1, int64(n))
	if err != nil {
		v.t.Fatal(err)
	}
	if len(rs) != n {
		v.t.Fatalf("%d recipients, want %d", len(rs), n)
	}
	return rs
}

// approved returns the approved current letters by language.
func (v *sendEnv) approved() map[breach.Language]breach.LetterVersion {
	v.t.Helper()
	out := map[breach.Language]breach.LetterVersion{}
	for _, lang := range []breach.Language{breach.French, breach.English} {
		l, err := v.store.CurrentLetter(context.Background(), v.incident, lang)
		if err != nil || l.State != breach.LetterApproved {
			v.t.Fatalf("letter %s: %+v %v", lang, l, err)
		}
		out[lang] = l
	}
	return out
}

// checkNoPersonalDataInHistories reads the raw histories of the People and
// partition workflows and looks for recipients' emails and names.
func (v *sendEnv) checkNoPersonalDataInHistories(rs []breach.Recipient, seq, partitions int) {
	v.t.Helper()
	raw := testenv.Client(v.t, converter.GetDefaultDataConverter())
	ids := []string{breach.PeopleWorkflowID(v.incident)}
	for p := range partitions {
		ids = append(ids, breach.PartitionWorkflowID(v.incident, seq, p))
	}
	for _, wid := range ids {
		hist := testenv.History(v.t, raw, wid, "")
		for i, r := range rs {
			if i%7 != 0 && i > 200 {
				continue // a sample is enough past the first ones
			}
			for _, secret := range []string{r.Email, r.Name} {
				if secret != "" && (bytes.Contains(hist, []byte(secret)) || bytes.Contains(hist, jsonEscaped(secret))) {
					v.t.Fatalf("history of %s contains personal data of person %d", wid, r.PersonID)
				}
			}
		}
	}
}

// TestSendEveryPersonExactlyOnce sends to a few thousand generated people:
// each receives exactly one message, in their language, whose parts are the
// approved version rendered for them, with its content hash on the ledger row.
func TestSendEveryPersonExactlyOnce(t *testing.T) {
	const n = 3000
	sink := smtptest.Start(t, smtptest.Options{})
	v := newSendEnv(t, sink, 1)
	v.openIncident(n, 7)

	// Nothing can start before the letters are approved.
	v.refused("dpo", "POST", v.path("people", "send"), workflows.StartSendUpdate{}, breach.ErrConflict)
	v.approveLetters()
	// The preview renders the current version for the preview person; for a
	// real person, only the DPO and approvers may see it.
	if _, err := v.as("auditor").Raw(context.Background(), "GET", v.path("letters", "fr", "preview"), nil); err != nil {
		t.Fatalf("preview: %v", err)
	}
	v.refused("auditor", "GET", v.path("letters", "fr", "preview")+"?person=1", nil, breach.ErrForbidden)
	v.refused("approver", "POST", v.path("people", "send"), workflows.StartSendUpdate{}, breach.ErrForbidden)

	start := time.Now()
	st := v.startSend(workflows.SendOptions{Partitions: 4, BatchSize: 400, BatchesPerRun: 3})
	if st.People != n || len(st.Ranges) != 4 || st.State != breach.SendRunning {
		t.Fatalf("send %+v", st)
	}
	// Imports are refused once the send started.
	var more bytes.Buffer
	_ = people.Generate(&more, 3, 99, people.CSV)
	if _, err := v.engine.App().ImportPeople(context.Background(), v.users["dpo"].Actor(), v.incident, &more, app.ImportPeopleInput{}); breach.ErrorCode(err) != breach.ErrConflict {
		t.Fatalf("import after the start: %v", err)
	}
	status := v.waitDone(2 * time.Minute)
	t.Logf("%d people in %s (%.0f/s), %d bytes a message", n, time.Since(start).Round(time.Millisecond), n/time.Since(start).Seconds(), sink.Stats().Bytes/int64(max(sink.Count(), 1)))
	if status.Counts.Sent != n || status.Total != n || status.Done != n {
		t.Fatalf("status %+v", status)
	}

	rs := v.recipients(n)
	letters := v.approved()
	inc, err := v.store.GetIncident(context.Background(), v.incident)
	if err != nil {
		t.Fatal(err)
	}
	byRcpt := map[string][]smtptest.Message{}
	for _, m := range sink.Messages() {
		for _, to := range m.To {
			byRcpt[strings.ToLower(to)] = append(byRcpt[strings.ToLower(to)], m)
		}
	}
	if got := sink.Count(); got != n {
		t.Fatalf("the relay received %d messages, want %d", got, n)
	}
	rows, err := v.store.LedgerRows(context.Background(), v.incident, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	english := 0
	for i, r := range rs {
		ms := byRcpt[strings.ToLower(r.Email)]
		if len(ms) != 1 {
			t.Fatalf("person %d received %d messages", r.PersonID, len(ms))
		}
		m := ms[0]
		l := letters[r.Language]
		if r.Language == breach.English {
			english++
		}
		if got := m.Header("Content-Language"); got != string(r.Language) {
			t.Fatalf("person %d reads %s, message in %q", r.PersonID, r.Language, got)
		}
		row := rows[i]
		if row.PersonID != r.PersonID || row.State != breach.DeliverySent || row.LetterID != l.ID ||
			row.ContentHash != l.ContentHash || row.MessageID != m.MessageID || row.Attempt != 1 {
			t.Fatalf("ledger row %+v, letter %s %s, message %s", row, l.ID, l.ContentHash, m.MessageID)
		}
		if i%10 != 0 && i > 50 {
			continue // rendering every letter again is slow: a sample past the first
		}
		want, err := templates.Letters{}.RenderLetter(context.Background(), templates.LetterInput{Incident: inc, Fields: l.Fields, Version: l.Version, Recipient: r})
		if err != nil {
			t.Fatal(err)
		}
		text, html, err := m.Parts()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(crlf(html), crlf(want.HTML)) || !bytes.Equal(crlf(text), crlf(want.Text)) {
			t.Fatalf("person %d: the message is not the approved version rendered for them", r.PersonID)
		}
		if subj, err := new(mime.WordDecoder).DecodeHeader(m.Header("Subject")); err != nil || subj != want.Subject {
			t.Fatalf("person %d: subject %q, want %q (%v)", r.PersonID, subj, want.Subject, err)
		}
		if m.Header("Reply-To") == "" || m.Header("List-Unsubscribe") != "" {
			t.Fatalf("person %d: reply-to %q, list-unsubscribe %q", r.PersonID, m.Header("Reply-To"), m.Header("List-Unsubscribe"))
		}
	}
	if english == 0 {
		t.Fatal("no English reader in the population: the languages are not exercised")
	}
	for lang, l := range letters {
		if h := templates.LetterContentHash(inc, l.Fields, l.Version); h != l.ContentHash {
			t.Fatalf("letter %s: stored hash %s, rendered now %s", lang, l.ContentHash, h)
		}
	}
	c, err := v.store.CountLedger(context.Background(), v.incident)
	if err != nil || c != status.Counts {
		t.Fatalf("COUNT %+v, counters %+v (%v)", c, status.Counts, err)
	}
	v.checkNoPersonalDataInHistories(rs, st.Seq, 4)
	actions := strings.Join(v.auditActions(v.incident), ",")
	for _, a := range []string{"people.imported", "letter.saved", "letter.approved", "send.started", "delivery.batch", "send.completed"} {
		if !strings.Contains(actions, a) {
			t.Errorf("audit lacks %s", a)
		}
	}
	var ver store.AuditVerification
	v.do("auditor", "GET", "/api/v1/audit/verify", nil, &ver)
	if !ver.OK {
		t.Fatalf("audit chain %+v", ver)
	}
}

func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// TestSendRelayFaults: a share of 451 answers is retried to success; 550 for
// given addresses ends failed with the relay's answer and is never retried;
// the relay stopped for a while: the send resumes and completes.
func TestSendRelayFaults(t *testing.T) {
	const n = 2000
	var bounce []string
	sinkOpts := smtptest.Options{}
	onRcpt := func(string) error { return nil }
	sinkOpts.OnRcpt = func(rcpt string) error { return onRcpt(rcpt) }
	sink := smtptest.Start(t, sinkOpts)
	v := newSendEnv(t, sink, 1)
	v.openIncident(n, 11)
	rs := v.recipients(n)
	for i := 5; i < n; i += 97 {
		bounce = append(bounce, rs[i].Email)
	}
	onRcpt = smtptest.FirstOf(
		smtptest.Reject(smtptest.Permanent("5.1.1 <"+bounce[0]+"> mailbox unknown"), bounce...),
		smtptest.Share(0.15, 3, smtptest.Temporary("4.3.0 try again later")))
	v.approveLetters()
	v.startSend(workflows.SendOptions{Partitions: 4, BatchSize: 250, RetryBase: 300 * time.Millisecond, MaxAttempts: 20})

	// Take the relay down for a few seconds once a third went out.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sink.WaitCount(ctx, n/3); err != nil {
		t.Fatal(err)
	}
	sink.Stop()
	downAt := sink.Count()
	time.Sleep(3 * time.Second)
	if err := sink.Restart(); err != nil {
		t.Fatal(err)
	}
	status := v.waitDone(3 * time.Minute)
	if downAt >= n-len(bounce) {
		t.Fatalf("the relay went down after the end (%d)", downAt)
	}
	if status.Counts.Failed != int64(len(bounce)) || status.Counts.Sent != int64(n-len(bounce)) || status.Counts.Unknown != 0 {
		t.Fatalf("counts %+v, %d bounces", status.Counts, len(bounce))
	}
	stats := sink.Stats()
	if stats.PermFailures != int64(len(bounce)) {
		t.Fatalf("%d permanent refusals for %d bouncing addresses: a 5xx was retried", stats.PermFailures, len(bounce))
	}
	if stats.TempFailures == 0 {
		t.Fatal("no temporary refusal happened")
	}
	bounced := map[string]bool{}
	for _, b := range bounce {
		bounced[strings.ToLower(b)] = true
	}
	rows, err := v.store.LedgerRows(context.Background(), v.incident, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	deferred := 0
	events, err := v.store.LedgerEvents(context.Background(), v.incident, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	unknown := map[int64]bool{}
	for _, e := range events {
		if e.To == breach.DeliveryPending && e.RelayCode == 451 {
			deferred++
		}
		if e.To == breach.DeliveryUnknown {
			unknown[e.PersonID] = true
		}
	}
	if deferred == 0 {
		t.Fatal("no 451 recorded in the ledger's history")
	}
	for i, r := range rs {
		row := rows[i]
		got := sink.ByRecipient(r.Email)
		if bounced[strings.ToLower(r.Email)] {
			if row.State != breach.DeliveryFailed || row.RelayCode != 550 || !strings.Contains(row.RelayResponse, "5.1.1") ||
				strings.Contains(strings.ToLower(row.RelayResponse), strings.ToLower(r.Email)) || got != 0 || row.Attempt != 1 {
				t.Fatalf("bounced person %d: row %+v, received %d", r.PersonID, row, got)
			}
			continue
		}
		if row.State != breach.DeliverySent {
			t.Fatalf("person %d: row %+v", r.PersonID, row)
		}
		// A message cut by the relay's stop after it went out may have been
		// received; it is then unknown in the ledger and resent.
		if got != 1 && !(got == 2 && unknown[r.PersonID]) {
			t.Fatalf("person %d received %d messages (unknown in the ledger: %v)", r.PersonID, got, unknown[r.PersonID])
		}
	}
	t.Logf("relay down at %d messages; %d temporary refusals, %d deferred rows, %d unknown", downAt, stats.TempFailures, deferred, len(unknown))
}

// TestSendTwoWorkersNobodyTwice: two workers (each a main and a delivery
// worker, their own identity) share the send through Temporal and Postgres
// only: nobody receives two messages, and both did some of the work. The
// DPO pauses the send half-way (nothing more goes out) and resumes it.
func TestSendTwoWorkersNobodyTwice(t *testing.T) {
	const n = 2000
	sink := smtptest.Start(t, smtptest.Options{})
	// 6 connections at 100 messages/s each: about 3 s of sending.
	v := newSendEnv(t, sink, 2, func(c *mail.Config) { c.Rate = 100 })
	v.openIncident(n, 13)
	v.approveLetters()
	v.startSend(workflows.SendOptions{Partitions: 6, BatchSize: 100, Chunk: 20})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sink.WaitCount(ctx, n/4); err != nil {
		t.Fatal(err)
	}
	v.refused("approver", "POST", v.path("people", "send", "pause"), nil, breach.ErrForbidden)
	v.do("dpo", "POST", v.path("people", "send", "pause"), workflows.SendControlUpdate{Reason: "synthetic: relay complaint"}, nil)
	time.Sleep(time.Second) // the chunks in flight end
	paused := sink.Count()
	time.Sleep(1500 * time.Millisecond)
	var st app.PeopleStatus
	v.do("auditor", "GET", v.path("people", "status"), nil, &st)
	if sink.Count() != paused || st.Send.State != breach.SendPaused || st.Counts.Sending != 0 || paused >= n {
		t.Fatalf("paused: %d then %d messages, status %+v %s", paused, sink.Count(), st.Counts, st.Send.State)
	}
	v.refused("dpo", "POST", v.path("people", "send", "pause"), nil, breach.ErrConflict)
	v.do("dpo", "POST", v.path("people", "send", "resume"), nil, nil)
	status := v.waitDone(2 * time.Minute)
	if status.Counts.Sent != n || sink.Count() != n {
		t.Fatalf("counts %+v, relay %d", status.Counts, sink.Count())
	}
	if d := sink.Duplicates(); len(d) != 0 {
		t.Fatalf("messages received twice: %d", len(d))
	}
	for _, r := range v.recipients(n) {
		if got := sink.ByRecipient(r.Email); got != 1 {
			t.Fatalf("person %d received %d messages", r.PersonID, got)
		}
	}
	rows, err := v.store.LedgerRows(context.Background(), v.incident, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	workers := map[string]int{}
	for _, r := range rows {
		workers[strings.SplitN(r.Worker, "#", 2)[0]]++
	}
	if len(workers) != 2 {
		// Temporal hands tasks to whichever poller asks: usually both.
		t.Logf("only one worker got batches: %v", workers)
	}
	t.Logf("work by worker: %v; paused at %d messages", workers, paused)
	actions := strings.Join(v.auditActions(v.incident), ",")
	for _, a := range []string{"send.paused", "send.resumed", "send.completed"} {
		if !strings.Contains(actions, a) {
			t.Errorf("audit lacks %s", a)
		}
	}
}
