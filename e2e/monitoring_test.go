package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/webhook"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// TestMonitoringAlertOpensAComplementaryDraft runs the monitoring on the
// real pieces: an account takeover reported by the organisation's signed
// webhook is stored, signalled to the Monitoring workflow, raises an alert
// mailed to the DPO and opens a complementary notification draft (GDPR Art.
// 33(4)) on the GDPR regime workflow through its save_draft Update; closing
// the incident ends the monitoring with the final report.
func TestMonitoringAlertOpensAComplementaryDraft(t *testing.T) {
	ctx := context.Background()
	secret := []byte("e2e-inbound-secret")
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	sink := smtptest.Start(t, smtptest.Options{})
	sender, err := mail.NewSender(mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: mail.TLSNone, From: "breach@agence.example"})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{Store: st, Temporal: tc, Codec: cdc, TaskQueue: testenv.TaskQueue(t),
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), InboundSecrets: [][]byte{secret}}
	testenv.Worker(t, tc, e.TaskQueue, func(r worker.Registry) {
		engine.Register(r, &activities.Activities{Store: st, Dossiers: templates.Dossiers{}, Logger: testenv.Logger(),
			Mail: sender, Reports: templates.Reports{}, Reminders: engine.ReminderRenderer{}, Letters: engine.LetterRenderer{},
			Complementary: engine.ComplementaryOpener{Client: tc}})
	})
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	v := &env{t: t, store: st, engine: e, baseURL: srv.URL, tokens: map[string]string{}, users: map[string]store.User{}}
	for _, u := range []struct {
		name string
		role breach.Role
	}{{"dpo", breach.RoleDPO}, {"approver", breach.RoleApprover}, {"auditor", breach.RoleAuditor}} {
		user, err := st.CreateUser(ctx, breach.System, store.NewUser{Username: u.name, DisplayName: u.name, Role: u.role})
		if err != nil {
			t.Fatal(err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(ctx, breach.System, user.ID, "e2e", hash); err != nil {
			t.Fatal(err)
		}
		v.tokens[u.name], v.users[u.name] = token, user
	}

	// The incident, assessed, its initial notification filed.
	in := motivatingIncident(time.Now())
	var inc breach.Incident
	v.do("dpo", "POST", "/api/v1/incidents", in, &inc)
	p := "/api/v1/incidents/" + inc.ID
	v.do("dpo", "POST", p+"/assessment", workflows.AssessUpdate{Reason: "credentials and health data, malicious"}, nil)
	var d activities.DraftRef
	v.do("dpo", "POST", p+"/regimes/gdpr/drafts", workflows.SaveDraftUpdate{Stage: breach.StageInitial, Fields: breach.DraftFields{
		Language: breach.French, Nature: "Exfiltration", Consequences: "Hameçonnage", MeasuresTaken: "Mots de passe réinitialisés", MeasuresProposed: "Surveillance"}}, &d)
	v.do("approver", "POST", p+"/regimes/gdpr/decisions", workflows.DecideDraftUpdate{Stage: breach.StageInitial, Seq: d.Key.Seq, Version: d.Version, Approve: true}, nil)
	v.do("dpo", "POST", p+"/regimes/gdpr/filings", workflows.RecordFilingUpdate{Stage: breach.StageInitial, Seq: d.Key.Seq,
		FiledAt: time.Now().Add(-time.Minute), Channel: "cnil_online", Reference: "CNIL-E2E-1"}, nil)

	// The monitoring, as the credential track will start it.
	started := time.Now().Add(-time.Hour)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: breach.MonitoringWorkflowID(inc.ID), TaskQueue: e.TaskQueue},
		workflows.MonitoringWorkflowName, workflows.MonitoringParams{IncidentID: inc.ID, StartedAt: started})
	if err != nil {
		t.Fatal(err)
	}

	// The organisation reports an account takeover, naming the account.
	body := []byte(fmt.Sprintf(`{"signals":[{"kind":"account_takeover","count":1,"observed_at":%q,"account_ids":["FT-E2E-ACCOUNT-77"]}]}`,
		time.Now().Add(-time.Minute).Format(time.RFC3339)))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+p+"/signals", bytes.NewReader(body))
	req.Header.Set(webhook.Header, webhook.Sign(secret, body, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var res app.SignalsResult
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &res) != nil || res.Monitoring != "signalled" {
		t.Fatalf("signals: %d %s", resp.StatusCode, raw)
	}

	// The alert: mailed to the DPO, the complementary draft opened.
	var m app.Monitoring
	deadline := time.Now().Add(30 * time.Second)
	for {
		v.do("auditor", "GET", p+"/monitoring", nil, &m)
		if len(m.Alerts) == 1 && m.Alerts[0].DraftSeq != nil && m.Alerts[0].MailedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert with its draft: %+v", m.Alerts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m.View == nil || len(m.View.Alerted) != 1 || m.View.Signals[breach.SignalAccountTakeover] != 1 {
		t.Errorf("workflow view %+v", m.View)
	}
	var view app.IncidentView
	v.do("dpo", "GET", p, nil, &view)
	found := false
	for _, dv := range view.Drafts {
		if dv.Key.Stage == breach.StageComplementary && dv.Key.Seq == *m.Alerts[0].DraftSeq && dv.DraftedBy == breach.MonitoringActor.UserID {
			found = true
		}
	}
	if !found {
		t.Errorf("no complementary draft %d by %s among %+v", *m.Alerts[0].DraftSeq, breach.MonitoringActor.UserID, view.Drafts)
	}
	// The DPO may not approve it (role), an approver who did not draft it may.
	v.refused("dpo", "POST", p+"/regimes/gdpr/decisions", workflows.DecideDraftUpdate{Stage: breach.StageComplementary, Seq: *m.Alerts[0].DraftSeq, Version: 1, Approve: true}, breach.ErrForbidden)
	v.do("approver", "POST", p+"/regimes/gdpr/decisions", workflows.DecideDraftUpdate{Stage: breach.StageComplementary, Seq: *m.Alerts[0].DraftSeq, Version: 1, Approve: true}, nil)

	// Closing the incident ends the monitoring early, with the final report.
	v.do("dpo", "POST", p+"/close", workflows.CloseUpdate{Summary: "Monitored; complementary notification filed."}, nil)
	if err := tc.SignalWorkflow(ctx, breach.MonitoringWorkflowID(inc.ID), "", workflows.SignalClose, nil); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := run.Get(wctx, nil); err != nil {
		t.Fatalf("monitoring: %v", err)
	}
	v.do("auditor", "GET", p+"/monitoring", nil, &m)
	if len(m.Reports) != 1 || !m.Reports[0].Final || !m.Reports[0].Summary.EndedEarly || m.Reports[0].MailedAt == nil {
		t.Fatalf("reports %+v", m.Reports)
	}
	html, err := v.as("auditor").Raw(ctx, "GET", p+"/monitoring/reports/"+m.Reports[0].ID+"?format=html", nil)
	if err != nil || sha256Hex(html) != m.Reports[0].ContentHash {
		t.Fatalf("report html (%v): hash %s, stored %s", err, sha256Hex(html), m.Reports[0].ContentHash)
	}
	if sink.Count() != 2 {
		t.Errorf("%d mails to the DPO, want the alert and the report", sink.Count())
	}
	for _, msg := range sink.Messages() {
		if strings.Join(msg.To, ",") != in.Controller.DPO.Email {
			t.Errorf("mail to %v", msg.To)
		}
	}

	// IDs and counts only in the monitoring's history; no account ID anywhere.
	hist := testenv.History(t, testenv.Client(t, converter.GetDefaultDataConverter()), breach.MonitoringWorkflowID(inc.ID), "")
	for _, secret := range []string{"FT-E2E-ACCOUNT-77", in.Controller.DPO.Email, in.Controller.DPO.Name} {
		if bytes.Contains(hist, []byte(secret)) || bytes.Contains(hist, jsonEscaped(secret)) {
			t.Errorf("monitoring history contains %q", secret)
		}
	}
	var clear int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE after::text LIKE '%FT-E2E-ACCOUNT%'`).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("%d audit rows hold the account ID (%v)", clear, err)
	}
}

// TestMonitoringWholePeriodHistoryIsSmall runs a whole monitoring period on
// the real server, started 90 days minus a few seconds ago: every weekly
// report falls due at once, the reminder rounds find nobody pending, and the
// final report follows at the end. Its history is what a 90-day run without
// signals leaves: it must stay small (no continue-as-new needed).
func TestMonitoringWholePeriodHistoryIsSmall(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	tq := testenv.TaskQueue(t)
	testenv.Worker(t, tc, tq, func(r worker.Registry) {
		engine.Register(r, &activities.Activities{Store: st, Dossiers: templates.Dossiers{}, Logger: testenv.Logger(), Reports: templates.Reports{}})
	})
	inc, _, err := st.CreateIncident(ctx, breach.Actor{UserID: "dpo", Role: breach.RoleDPO}, motivatingIncident(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-workflows.DefaultMonitoringPeriod + 5*time.Second)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: breach.MonitoringWorkflowID(inc.ID), TaskQueue: tq},
		workflows.MonitoringWorkflowName, workflows.MonitoringParams{IncidentID: inc.ID, StartedAt: started})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := run.Get(wctx, nil); err != nil {
		t.Fatal(err)
	}
	reports, err := st.Reports(ctx, inc.ID)
	if err != nil || len(reports) != 13 || !reports[12].Final || reports[12].Summary.EndedEarly {
		t.Fatalf("%d reports (%v), want 12 weekly and a final one", len(reports), err)
	}
	events := 0
	it := tc.GetWorkflowHistory(ctx, breach.MonitoringWorkflowID(inc.ID), run.GetRunID(), false, 0)
	for it.HasNext() {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
		events++
	}
	t.Logf("a 90-day monitoring without signals: %d history events", events)
	if events > 300 {
		t.Errorf("%d history events for a whole period", events)
	}
}
