// Package e2e runs the regulator track end to end on the real pieces: the
// embedded Temporal server, a real Postgres, the worker with the real
// activities and templates, and the HTTP API, driven as different accounts.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/apiclient"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// env is one engine on the shared Temporal server and a fresh database.
type env struct {
	t       *testing.T
	store   *store.Store
	engine  *engine.Engine
	baseURL string
	tokens  map[string]string // username -> token
	users   map[string]store.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	e := &engine.Engine{
		Store: st, Temporal: tc, Codec: cdc, TaskQueue: testenv.TaskQueue(t),
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(),
		// A closed incident's workflow ends after the purge: a second, so
		// that the tests see it end.
		RetentionAfterClose: time.Second,
	}
	testenv.Worker(t, tc, e.TaskQueue, func(r worker.Registry) {
		engine.Register(r, &activities.Activities{Store: st, Dossiers: templates.Dossiers{}, Logger: testenv.Logger()})
	})
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
	return v
}

// as returns an API client authenticated as the named account.
func (v *env) as(user string) *apiclient.Client { return apiclient.New(v.baseURL, v.tokens[user]) }

// do calls the API and fails the test on an unexpected error.
func (v *env) do(user, method, path string, body, out any) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := v.as(user).Do(ctx, method, path, body, out); err != nil {
		v.t.Fatalf("%s %s %s: %v", user, method, path, err)
	}
}

// refused calls the API expecting a domain error of the given code.
func (v *env) refused(user, method, path string, body any, code breach.Code) *breach.Error {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := v.as(user).Do(ctx, method, path, body, nil)
	var de *breach.Error
	if !errorsAs(err, &de) || de.Code != code {
		v.t.Fatalf("%s %s %s: got %v, want a %s error", user, method, path, err, code)
	}
	return de
}

func (v *env) auditActions(incidentID string) []string {
	v.t.Helper()
	rows, err := v.store.AuditLog(context.Background(), incidentID)
	if err != nil {
		v.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	return out
}

func motivatingIncident(now time.Time) breach.IncidentInput {
	return demo.Incident(now)
}

func TestMain(m *testing.M) {
	pgtest.Main(m, testenv.Stop)
}

func errorsAs(err error, target **breach.Error) bool { return errors.As(err, target) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestRegulatorTrackEndToEnd(t *testing.T) {
	v := newEnv(t)
	now := time.Now()
	in := motivatingIncident(now)

	// Bad input: an aware_at in the future is refused with the field named,
	// and nothing is written.
	bad := in
	bad.Reference = "bad"
	bad.AwareAt = now.Add(time.Hour)
	if e := v.refused("dpo", "POST", "/api/v1/incidents", bad, breach.ErrInvalid); e.Field != "aware_at" {
		t.Fatalf("bad aware_at: field %q", e.Field)
	}
	var list []breach.Incident
	v.do("auditor", "GET", "/api/v1/incidents", nil, &list)
	if len(list) != 0 {
		t.Fatalf("a refused incident was written: %d incidents", len(list))
	}
	// An approver may not open an incident: 403, audited.
	v.refused("approver", "POST", "/api/v1/incidents", in, breach.ErrForbidden)

	// Open, twice: one incident, one workflow.
	var inc, again breach.Incident
	v.do("dpo", "POST", "/api/v1/incidents", in, &inc)
	v.do("dpo", "POST", "/api/v1/incidents", in, &again)
	if inc.ID == "" || again.ID != inc.ID {
		t.Fatalf("opening twice gave %q and %q", inc.ID, again.ID)
	}
	ctx := context.Background()
	desc, err := v.engine.Temporal.DescribeWorkflowExecution(ctx, breach.WorkflowID(inc.ID), "")
	if err != nil {
		t.Fatalf("incident workflow: %v", err)
	}
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	p := "/api/v1/incidents/" + inc.ID

	// Assess: the approver may not; the DPO confirms the proposal with a reason.
	v.refused("approver", "POST", p+"/assessment", workflows.AssessUpdate{Reason: "x"}, breach.ErrForbidden)
	v.refused("dpo", "POST", p+"/assessment", workflows.AssessUpdate{}, breach.ErrInvalid)
	var assessed activities.AssessResult
	v.do("dpo", "POST", p+"/assessment", workflows.AssessUpdate{Reason: "health data of millions, malicious"}, &assessed)
	if assessed.Decided != breach.RiskHigh || !assessed.NotifySA || !assessed.NotifySubjects {
		t.Fatalf("assessment: %+v", assessed)
	}

	// Draft by the DPO; the DPO cannot approve (role), the approver can.
	fields := breach.DraftFields{Language: breach.French, Nature: "Exfiltration", Consequences: "Hameçonnage",
		MeasuresTaken: "Compte désactivé", MeasuresProposed: "Réinitialisation des mots de passe"}
	var d1 activities.DraftRef
	v.do("dpo", "POST", p+"/regimes/gdpr/drafts", workflows.SaveDraftUpdate{Stage: breach.StageInitial, Fields: fields}, &d1)
	if d1.Version != 1 || d1.ContentHash == "" {
		t.Fatalf("draft: %+v", d1)
	}
	// The approver edits it: version 2, edited by the approver, who may then not approve it.
	fields.MeasuresTaken += " ; journaux conservés"
	var d2 activities.DraftRef
	v.do("approver", "POST", p+"/regimes/gdpr/drafts", workflows.SaveDraftUpdate{Stage: breach.StageInitial, Seq: d1.Key.Seq, BaseVersion: 1, Fields: fields}, &d2)
	decide := func(version int) workflows.DecideDraftUpdate {
		return workflows.DecideDraftUpdate{Stage: breach.StageInitial, Seq: d1.Key.Seq, Version: version, Approve: true, Comment: "ok"}
	}
	v.refused("dpo", "POST", p+"/regimes/gdpr/decisions", decide(2), breach.ErrForbidden)
	v.refused("approver", "POST", p+"/regimes/gdpr/decisions", decide(2), breach.ErrForbidden) // last editor: four-eyes
	v.refused("approver2", "POST", p+"/regimes/gdpr/decisions", decide(1), breach.ErrConflict) // stale version
	v.do("approver2", "POST", p+"/regimes/gdpr/decisions", decide(2), nil)

	// The DPO records the filing with the CNIL's receipt reference.
	var filing workflows.FilingResult
	v.do("dpo", "POST", p+"/regimes/gdpr/filings", workflows.RecordFilingUpdate{
		Stage: breach.StageInitial, Seq: d1.Key.Seq, FiledAt: time.Now().Add(-time.Minute), Channel: "cnil_online", Reference: "CNIL-2026-000123",
	}, &filing)
	if filing.FilingID == "" || filing.Late {
		t.Fatalf("filing: %+v", filing)
	}

	// A complementary filing (Art. 33(4)) goes through the same loop.
	more := breach.DraftFields{Language: breach.French, Nature: "Exfiltration confirmée", Consequences: "Hameçonnage",
		MeasuresTaken: "Mots de passe réinitialisés", MeasuresProposed: "Surveillance 90 jours", Notes: "Nombre de personnes confirmé."}
	var c1 activities.DraftRef
	v.do("dpo", "POST", p+"/regimes/gdpr/drafts", workflows.SaveDraftUpdate{Stage: breach.StageComplementary, Fields: more}, &c1)
	v.do("approver", "POST", p+"/regimes/gdpr/decisions", workflows.DecideDraftUpdate{Stage: breach.StageComplementary, Seq: c1.Key.Seq, Version: c1.Version, Approve: true}, nil)
	v.do("dpo", "POST", p+"/regimes/gdpr/filings", workflows.RecordFilingUpdate{
		Stage: breach.StageComplementary, Seq: c1.Key.Seq, FiledAt: time.Now().Add(-time.Second), Channel: "cnil_online", Reference: "CNIL-2026-000123-C1",
	}, nil)

	// The dossier that was filed is the one that was approved.
	var view app.IncidentView
	v.do("auditor", "GET", p, nil, &view)
	if len(view.Filings) != 2 {
		t.Fatalf("filings: %+v", view.Filings)
	}
	for _, f := range view.Filings {
		html, err := v.as("auditor").Raw(ctx, "GET", p+"/drafts/"+f.DraftVersionID+"/dossier.html", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hex(html); got != f.ContentHash {
			t.Fatalf("filed dossier hash %s, recorded %s", got, f.ContentHash)
		}
		// The JSON export is the same record: valid JSON holding the CNIL's items.
		record, err := v.as("auditor").Raw(ctx, "GET", p+"/drafts/"+f.DraftVersionID+"/dossier.json", nil)
		if err != nil || !json.Valid(record) || !bytes.Contains(record, []byte(in.Controller.SIREN)) {
			t.Fatalf("dossier.json (%v): %.300s", err, record)
		}
	}

	// Close.
	v.do("dpo", "POST", p+"/close", workflows.CloseUpdate{Summary: "Notified, people told, passwords reset."}, nil)
	waitClosed(t, v, inc.ID, firstRun)

	// The register holds it, in CSV too.
	csv, err := v.as("auditor").Raw(ctx, "GET", "/api/v1/register?format=csv", nil)
	if err != nil || !bytes.Contains(csv, []byte(inc.ID)) || !bytes.Contains(csv, []byte("CNIL-2026-000123")) {
		t.Fatalf("register csv (%v):\n%s", err, csv)
	}

	// Refusals were audited.
	actions := strings.Join(v.auditActions(inc.ID), ",")
	for _, want := range []string{"incident.opened", "assessment.decided", "draft.saved", "draft.approved", "filing.recorded", "incident.closed", "update.rejected", "people.purged"} {
		if !strings.Contains(actions, want) {
			t.Errorf("audit log lacks %s: %s", want, actions)
		}
	}

	// The audit chain verifies; rewriting one row through SQL breaks it at that row.
	var ver store.AuditVerification
	v.do("auditor", "GET", "/api/v1/audit/verify", nil, &ver)
	if !ver.OK || ver.Rows < 8 {
		t.Fatalf("verify: %+v", ver)
	}
	rows, _ := v.store.AuditLog(ctx, inc.ID)
	victim := rows[len(rows)/2].ID
	if _, err := v.store.Pool.Exec(ctx, `UPDATE audit_log SET after = '{"rewritten": true}' WHERE id = $1`, victim); err != nil {
		t.Fatal(err)
	}
	v.do("auditor", "GET", "/api/v1/audit/verify", nil, &ver)
	if ver.OK || ver.FirstBadID != victim {
		t.Fatalf("after tampering with row %d: %+v", victim, ver)
	}

	// No personal data of the incident in Temporal's history, read raw.
	raw := testenv.Client(t, converter.GetDefaultDataConverter())
	for _, wid := range []string{breach.WorkflowID(inc.ID), breach.RegimeWorkflowID(inc.ID, breach.RegimeGDPR)} {
		hist := testenv.History(t, raw, wid, "")
		for _, secret := range []string{in.Controller.DPO.Name, in.Controller.DPO.Email, in.Controller.DPO.Phone,
			in.Controller.LegalRepresentative, "Hameçonnage", "Exfiltration", "CNIL-2026-000123"} {
			if bytes.Contains(hist, []byte(secret)) || bytes.Contains(hist, jsonEscaped(secret)) {
				t.Errorf("history of %s contains %q", wid, secret)
			}
		}
	}
}

func jsonEscaped(s string) []byte {
	b, _ := json.Marshal(s)
	return bytes.Trim(b, `"`)
}

func waitClosed(t *testing.T, v *env, id, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := v.engine.Temporal.GetWorkflow(ctx, breach.WorkflowID(id), runID).Get(ctx, nil); err != nil {
		t.Fatalf("incident workflow did not complete: %v", err)
	}
	inc, err := v.store.GetIncident(ctx, id)
	if err != nil || inc.State != breach.StateClosed {
		t.Fatalf("incident state %s, %v", inc.State, err)
	}
}

// TestBadIncidentInputNamesTheFieldAndWritesNothing sends malformed incidents
// to the API: each gets 400 with the field named, and no incident, audit row
// or workflow appears.
func TestBadIncidentInputNamesTheFieldAndWritesNothing(t *testing.T) {
	v := newEnv(t)
	now := time.Now()
	valid, err := json.Marshal(motivatingIncident(now))
	if err != nil {
		t.Fatal(err)
	}
	// mutate returns the valid document with one top-level field replaced.
	mutate := func(field string, value any) json.RawMessage {
		var doc map[string]any
		_ = json.Unmarshal(valid, &doc)
		doc[field] = value
		b, _ := json.Marshal(doc)
		return b
	}
	controllerWithout := func(field string) json.RawMessage {
		var doc map[string]any
		_ = json.Unmarshal(valid, &doc)
		delete(doc["controller"].(map[string]any), field)
		b, _ := json.Marshal(doc)
		return b
	}
	cases := []struct {
		name  string
		body  json.RawMessage
		field string
	}{
		{"wrong date", mutate("aware_at", "25/11/2026"), ""},
		{"aware_at in the future", mutate("aware_at", now.Add(2*time.Hour)), "aware_at"},
		{"aware_at before detected_at", mutate("aware_at", now.Add(-30*24*time.Hour)), "aware_at"},
		{"negative count", mutate("approx_subjects", -5), "approx_subjects"},
		{"unknown category", mutate("data_categories", []string{"identification", "horoscope"}), "data_categories[1]"},
		{"unknown regime", mutate("regimes", []string{"dora"}), "regimes[0]"},
		{"missing controller name", controllerWithout("name"), "controller.name"},
		{"count as text", mutate("approx_subjects", "many"), "approx_subjects"},
		{"unknown field", mutate("colour", "red"), "colour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := v.refused("dpo", "POST", "/api/v1/incidents", c.body, breach.ErrInvalid)
			if c.field != "" && e.Field != c.field {
				t.Fatalf("field %q, want %q (%s)", e.Field, c.field, e.Message)
			}
		})
	}
	var list []breach.Incident
	v.do("auditor", "GET", "/api/v1/incidents", nil, &list)
	if len(list) != 0 {
		t.Fatalf("%d incidents written by refused requests", len(list))
	}
	for _, a := range v.auditActions("") {
		if a == "incident.opened" {
			t.Fatal("a refused incident was audited as opened")
		}
	}
}
