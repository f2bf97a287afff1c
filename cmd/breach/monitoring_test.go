package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/apiclient"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/workflows"
)

// The `breach monitoring` commands against the real engine in-process: the
// embedded Temporal server, a fresh Postgres, a worker with the real
// activities and templates, and the HTTP API the CLI talks to.

const monitoringSecret = "the organisation's inbound webhook secret (synthetic)"

type monitoringEnv struct {
	t        *testing.T
	st       *store.Store
	tc       client.Client
	url      string
	tokens   map[string]string
	queue    string
	incident string
	dir      string
}

func newMonitoringEnv(t *testing.T) *monitoringEnv {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{Store: st, Temporal: tc, Codec: cdc, TaskQueue: testenv.TaskQueue(t), Vault: v,
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), InboundSecrets: [][]byte{[]byte(monitoringSecret)}}
	testenv.Worker(t, tc, e.TaskQueue, func(r worker.Registry) { engine.Register(r, e.Activities()) })
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	env := &monitoringEnv{t: t, st: st, tc: tc, queue: e.TaskQueue, url: srv.URL, tokens: map[string]string{}, dir: t.TempDir()}
	for _, u := range []struct {
		name string
		role breach.Role
	}{{"dpo", breach.RoleDPO}, {"approver", breach.RoleApprover}, {"approver2", breach.RoleApprover}, {"auditor", breach.RoleAuditor}} {
		user, err := st.CreateUser(ctx, breach.System, store.NewUser{Username: u.name, DisplayName: u.name, Role: u.role})
		if err != nil {
			t.Fatal(err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(ctx, breach.System, user.ID, "cli-test", hash); err != nil {
			t.Fatal(err)
		}
		env.tokens[u.name] = token
	}
	t.Setenv("BREACH_URL", srv.URL)
	t.Setenv("BREACH_INBOUND_SECRET", monitoringSecret)

	// The incident, assessed, its initial notification filed: an alert
	// opens a complementary notification on it.
	var inc breach.Incident
	env.api("dpo", "POST", "/api/v1/incidents", demo.Incident(time.Now()), &inc)
	env.incident = inc.ID
	p := "/api/v1/incidents/" + inc.ID
	env.api("dpo", "POST", p+"/assessment", workflows.AssessUpdate{Reason: "credentials and health data, malicious"}, nil)
	var d activities.DraftRef
	env.api("dpo", "POST", p+"/regimes/gdpr/drafts", workflows.SaveDraftUpdate{Stage: breach.StageInitial, Fields: demo.Draft}, &d)
	env.api("approver", "POST", p+"/regimes/gdpr/decisions", workflows.DecideDraftUpdate{Stage: breach.StageInitial, Seq: d.Key.Seq, Version: d.Version, Approve: true}, nil)
	env.api("dpo", "POST", p+"/regimes/gdpr/filings", workflows.RecordFilingUpdate{Stage: breach.StageInitial, Seq: d.Key.Seq,
		FiledAt: time.Now().Add(-time.Minute), Channel: "cnil_online", Reference: "CNIL-CLI-1"}, nil)
	return env
}

func (e *monitoringEnv) api(user, method, path string, body, out any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := apiclient.New(e.url, e.tokens[user]).Do(ctx, method, path, body, out); err != nil {
		e.t.Fatalf("%s %s %s: %v", user, method, path, err)
	}
}

// as runs the CLI with user's token.
func (e *monitoringEnv) as(user, stdin string, args ...string) (string, int) {
	e.t.Helper()
	e.t.Setenv("BREACH_TOKEN", e.tokens[user])
	return run(e.t, stdin, args...)
}

func (e *monitoringEnv) file(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *monitoringEnv) storedSignals() int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM abuse_signals WHERE incident_id = $1`, e.incident).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *monitoringEnv) monitoring() app.Monitoring {
	e.t.Helper()
	var m app.Monitoring
	e.api("auditor", "GET", "/api/v1/incidents/"+e.incident+"/monitoring", nil, &m)
	return m
}

// wantOut fails unless the command exited with code and its output holds
// every want.
func wantOut(t *testing.T, out string, code, wantCode int, want ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("exit %d, want %d:\n%s", code, wantCode, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestMonitoringCommands(t *testing.T) {
	e := newMonitoringEnv(t)
	ctx := context.Background()
	id := e.incident

	out, code := e.as("auditor", "", "monitoring", "status", "--incident", id)
	wantOut(t, out, code, 0, "monitoring: not running", "alerts: none", "reports: none")

	// The monitoring, started as the incident starts it when the reset
	// starts (that wiring is checked in e2e).
	wf, err := e.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: breach.MonitoringWorkflowID(id), TaskQueue: e.queue},
		workflows.MonitoringWorkflowName, workflows.MonitoringParams{IncidentID: id, StartedAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	// Abuse signals: checked before anything is sent, errors naming the
	// field and never quoting the account IDs.
	observed := time.Now().Add(-time.Minute).Format(time.RFC3339)
	for name, c := range map[string]struct{ doc, field string }{
		"unknown kind": {`{"signals":[{"kind":"theft","count":1,"observed_at":"` + observed + `"}]}`, "signals[0].kind"},
		"zero count":   {`{"signals":[{"kind":"account_takeover","count":0,"observed_at":"` + observed + `"}]}`, "signals[0].count"},
		"bad date": {`{"signals":[{"kind":"account_takeover","count":1,"observed_at":"03/12/2026"}]}`,
			"signals[0].observed_at"},
		"count as text": {`{"signals":[{"kind":"account_takeover","count":"one","observed_at":"` + observed + `","account_ids":["FT-SECRET-1"]}]}`,
			"signals[0].count"},
		"unknown field": {`{"signals":[{"kind":"account_takeover","count":1,"observed_at":"` + observed + `","acount_ids":["FT-SECRET-1"]}]}`,
			"signals[0].acount_ids"},
		"no signals": {`{"signals":[]}`, "signals: at least one"},
	} {
		out, code := e.as("auditor", c.doc, "monitoring", "signals", "--incident", id, "--file", "-")
		if code != exitInvalid || !strings.Contains(out, c.field) || strings.Contains(out, "FT-SECRET") {
			t.Errorf("%s: exit %d, want %d naming %s:\n%s", name, code, exitInvalid, c.field, out)
		}
	}
	takeover := `{"signals":[{"kind":"account_takeover","count":1,"observed_at":"` + observed + `","account_ids":["FT-SECRET-1"]}]}`
	t.Setenv("BREACH_INBOUND_SECRET", "not the server's secret but long enough")
	out, code = e.as("auditor", takeover, "monitoring", "signals", "--incident", id, "--file", "-")
	wantOut(t, out, code, exitError, "send signals", "webhook signature: does not match")
	t.Setenv("BREACH_INBOUND_SECRET", "")
	out, code = e.as("auditor", takeover, "monitoring", "signals", "--incident", id, "--file", "-")
	wantOut(t, out, code, exitInvalid, "BREACH_INBOUND_SECRET is not set")
	if n := e.storedSignals(); n != 0 {
		t.Fatalf("%d signals stored by refused calls", n)
	}
	t.Setenv("BREACH_INBOUND_SECRET", monitoringSecret)
	out, code = e.as("auditor", "", "monitoring", "signals", "--incident", id, "--file", e.file("signals.json", takeover))
	wantOut(t, out, code, 0, "stored 1 signal(s)", "account_takeover 1", "monitoring signalled")
	if n := e.storedSignals(); n != 1 {
		t.Fatalf("%d signals stored, want 1", n)
	}

	// The reminder letter, under four-eyes.
	reminder := e.file("reminder.json", `{"subject":"Rappel : changez votre mot de passe",
		"how_to_reset":"Ouvrez l'application, menu Compte, puis Mot de passe.","helpline":"+33 1 23 45 67 89"}`)
	out, code = e.as("approver", "", "monitoring", "reminder", "draft", "--incident", id, "--file", reminder)
	wantOut(t, out, code, exitInvalid, "--lang", "required")
	out, code = e.as("approver", `{"language":"en","subject":"x","how_to_reset":"y"}`, "monitoring", "reminder", "draft", "--incident", id, "--lang", "fr", "--file", "-")
	wantOut(t, out, code, exitInvalid, "--lang", `file's language is "en"`)
	out, code = e.as("approver", `{"subject":"x","how_to_rest":"y"}`, "monitoring", "reminder", "draft", "--incident", id, "--lang", "fr", "--file", "-")
	wantOut(t, out, code, exitInvalid, "how_to_rest: unknown field")
	out, code = e.as("approver", "", "monitoring", "reminder", "draft", "--incident", id, "--lang", "fr", "--file", reminder)
	wantOut(t, out, code, 0, `"version": 1`)
	out, code = e.as("approver", "", "monitoring", "reminder", "approve", "--incident", id, "--lang", "fr", "--version", "1")
	wantOut(t, out, code, exitError, "approve the reminder (fr, version 1)", "four-eyes: the author of the reminder may not decide on it")
	out, code = e.as("approver2", "", "monitoring", "reminder", "reject", "--incident", id, "--lang", "fr", "--version", "1")
	wantOut(t, out, code, exitInvalid, "--comment: is required")
	out, code = e.as("approver2", "", "monitoring", "reminder", "approve", "--incident", id, "--lang", "fr", "--version", "1")
	wantOut(t, out, code, 0, `"state": "approved"`)
	out, code = e.as("auditor", "", "monitoring", "reminder", "list", "--incident", id)
	wantOut(t, out, code, 0, "LANG", "fr    1        approved")

	// The takeover raised an alert (mail, complementary draft): the status
	// shows it with the rounds and the reminder letter.
	deadline := time.Now().Add(30 * time.Second)
	for m := e.monitoring(); len(m.Alerts) == 0 || m.Alerts[0].DraftSeq == nil; m = e.monitoring() {
		if time.Now().After(deadline) {
			t.Fatalf("no alert with its draft: %+v", m.Alerts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, code = e.as("auditor", "", "monitoring", "status", "--incident", id)
	wantOut(t, out, code, 0, "monitoring: running", "(90 days)", "reminder letter: fr v1 approved", "next reminder round: 1 at ",
		"ROUND", "due", "account_takeover 1 (alert at 1)", "suspicious_login 0 (alert at 100 per 24h)",
		"threshold  account_takeover  1", "complementary 1", "reports: none")

	// --watch follows it until the final report, written when the incident
	// closes.
	var watchOut lockedBuffer
	watched := make(chan error, 1)
	go func() {
		root := newRoot()
		root.SetOut(&watchOut)
		root.SetErr(&watchOut)
		root.SetArgs([]string{"monitoring", "status", "--incident", id, "--watch", "--every", "50ms"})
		watched <- root.Execute()
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(watchOut.String(), "alerts 1"); {
		if time.Now().After(deadline) {
			t.Fatalf("--watch printed no line:\n%s", watchOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.tc.SignalWorkflow(ctx, breach.MonitoringWorkflowID(id), "", workflows.SignalClose, nil); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := wf.Get(wctx, nil); err != nil {
		t.Fatalf("monitoring: %v", err)
	}
	select {
	case err := <-watched:
		if err != nil {
			t.Fatalf("--watch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("--watch did not end after the final report")
	}
	got := watchOut.String()
	wantOut(t, got, 0, 0, "round 1 due, round 2 due; alerts 1; reports 0",
		"monitoring: ended early (the incident closed) at ", "planned until ", "yes")

	// The final report, checked against its stored hash.
	m := e.monitoring()
	if len(m.Reports) != 1 || !m.Reports[0].Final {
		t.Fatalf("reports %+v", m.Reports)
	}
	rep := m.Reports[0]
	file := filepath.Join(e.dir, "final.html")
	out, code = e.as("dpo", "", "monitoring", "report", "--incident", id, rep.ID, "--out", file)
	wantOut(t, out, code, 0, "report 1, final", "written to "+file, "matches the stored hash")
	html, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(html); hex.EncodeToString(sum[:]) != rep.ContentHash || !bytes.Contains(html, []byte("<html")) {
		t.Fatalf("written report: %d bytes, sha256 %x, stored %s", len(html), sum, rep.ContentHash)
	}
	out, code = e.as("auditor", "", "monitoring", "report", "--incident", id, rep.ID)
	if code != 0 || out != string(html) {
		t.Fatalf("report to stdout: exit %d, %d bytes, want the %d stored", code, len(out), len(html))
	}
	out, code = e.as("approver", "", "monitoring", "report", "--incident", id, rep.ID)
	wantOut(t, out, code, exitError, "may not read the monitoring reports")
	out, code = e.as("auditor", "", "monitoring", "status", "--incident", id, "--json")
	var asJSON app.Monitoring
	if code != 0 || json.Unmarshal([]byte(out), &asJSON) != nil || len(asJSON.Reports) != 1 || len(asJSON.Alerts) != 1 {
		t.Fatalf("--json: exit %d:\n%s", code, out)
	}

	// Command-line mistakes.
	for _, args := range [][]string{
		{"monitoring", "status"},
		{"monitoring", "report", rep.ID},
		{"monitoring", "signals", "--file", "-"},
		{"monitoring", "reminder", "approve", "--incident", id, "--lang", "de", "--version", "1"},
		{"monitoring", "reminder", "approve", "--incident", id, "--lang", "fr"},
	} {
		if out, code := e.as("auditor", "", args...); code != exitInvalid {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
}

// lockedBuffer is a bytes.Buffer a command writes to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
