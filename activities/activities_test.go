package activities_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeDossiers renders fixed bytes that depend on the key and version; it
// counts its calls so that tests see whether a retry rendered again.
type fakeDossiers struct{ calls int }

func (f *fakeDossiers) DossierRecord(_ context.Context, in activities.DossierInput) ([]byte, error) {
	return []byte(fmt.Sprintf(`{"version":%d}`, in.Version)), nil
}

func (f *fakeDossiers) RenderDossier(_ context.Context, in activities.DossierInput) ([]byte, error) {
	f.calls++
	return []byte(fmt.Sprintf("<h1>%s %s %d v%d</h1><p>%s</p>", in.Key.Regime, in.Key.Stage, in.Key.Seq, in.Version, in.Fields.Nature)), nil
}

var (
	dpo       = breach.Actor{UserID: "11111111-1111-4111-8111-111111111111", Role: breach.RoleDPO}
	approver  = breach.Actor{UserID: "22222222-2222-4222-8222-222222222222", Role: breach.RoleApprover}
	dpoEmail  = "dpo.person@example.org"
	dpoPerson = "Camille Martin"
)

func ptr[T any](v T) *T { return &v }

func newEnv(t *testing.T) (*activities.Activities, *fakeDossiers, breach.Incident) {
	t.Helper()
	st := pgtest.NewStore(t)
	fd := &fakeDossiers{}
	a := &activities.Activities{Store: st, Dossiers: fd}
	aware := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	inc, _, err := st.CreateIncident(context.Background(), dpo, breach.IncidentInput{
		Reference:  "ACT-1",
		Title:      "Export of job-seeker records",
		DetectedAt: aware.Add(-time.Hour),
		AwareAt:    aware,
		Controller: breach.Controller{Name: "Agence", SIREN: "130005481", LegalRepresentative: "Director",
			DPO: breach.Contact{Name: dpoPerson, Email: dpoEmail}},
		DataCategories:    []breach.DataCategory{breach.DataIdentification, breach.DataContact, breach.DataHealth},
		SubjectCategories: []breach.SubjectCategory{"job_seekers"},
		ApproxSubjects:    4800000,
		ApproxRecords:     4800000,
		BreachTypes:       []breach.BreachType{breach.Confidentiality},
		Cause:             "malicious_external",
		Circumstances: breach.Circumstances{
			EaseOfIdentification: ptr(breach.EaseMaximum),
			Recipients:           ptr(breach.RecipientsUnknown),
			Malicious:            ptr(true),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, fd, inc
}

func actions(t *testing.T, st *store.Store, incidentID string) []string {
	t.Helper()
	rows, err := st.AuditLog(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	return out
}

func count(t *testing.T, st *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRegulatorTrack runs every activity once along the regulator track, and
// each of them a second time with the same operation key: the retry returns
// the first result and changes nothing.
func TestRegulatorTrack(t *testing.T) {
	ctx := context.Background()
	a, fd, inc := newEnv(t)
	st := a.Store
	wf := breach.WorkflowID(inc.ID)
	twice := func(name string, f func() (any, error)) any {
		t.Helper()
		r1, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r2, err := f()
		if err != nil {
			t.Fatalf("%s again: %v", name, err)
		}
		if fmt.Sprint(r1) != fmt.Sprint(r2) {
			t.Fatalf("%s: retry returned %v, first call %v", name, r2, r1)
		}
		return r1
	}

	// Assessment: the DPO confirms the proposal.
	res := twice("assess", func() (any, error) {
		return a.RecordAssessment(ctx, activities.AssessInput{OpKey: wf + "/assess-1", RunID: "r1", IncidentID: inc.ID, Actor: dpo, Reason: "agreed"})
	}).(activities.AssessResult)
	proposal := breach.Assess(inc.Facts())
	if res.Proposed != proposal.Risk || res.Decided != proposal.Risk || res.AssessmentID == "" {
		t.Fatalf("assessment %+v, proposal %+v", res, proposal)
	}
	// Then overrides it with a reason: both are kept, the latest is current.
	over := twice("override", func() (any, error) {
		return a.RecordAssessment(ctx, activities.AssessInput{OpKey: wf + "/assess-2", IncidentID: inc.ID, Actor: dpo,
			Risk: ptr(breach.RiskHigh), Exemption: ptr(breach.ExemptionDisproportion), Reason: "public communication instead"})
	}).(activities.AssessResult)
	if over.Decided != breach.RiskHigh || over.NotifySubjects || !over.NotifySA {
		t.Fatalf("override %+v", over)
	}
	recs, _ := st.Assessments(ctx, inc.ID)
	if len(recs) != 2 || !recs[1].Overridden || recs[1].Reason != "public communication instead" || recs[1].Exemption == nil {
		t.Fatalf("assessments %+v", recs)
	}

	// aware_at moves, with before and after in the audit row.
	newAware := inc.AwareAt.Add(30 * time.Minute)
	twice("aware_at", func() (any, error) {
		return nil, a.ChangeAwareAt(ctx, activities.ChangeAwareAtInput{OpKey: wf + "/aware", IncidentID: inc.ID, Actor: dpo, AwareAt: newAware, Reason: "log review"})
	})
	got, _ := st.GetIncident(ctx, inc.ID)
	if !got.AwareAt.Equal(newAware) || got.State != breach.StateAssessed {
		t.Fatalf("incident after aware_at change: %v %s", got.AwareAt, got.State)
	}

	// Draft, by the DPO; rendered once even though the activity ran twice.
	key := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, Seq: 1}
	fields := breach.DraftFields{Language: breach.French, Nature: "Exfiltration", Consequences: "Phishing"}
	gwf := breach.RegimeWorkflowID(inc.ID, breach.RegimeGDPR)
	v1 := twice("save v1", func() (any, error) {
		return a.SaveDraft(ctx, activities.SaveDraftInput{OpKey: gwf + "/save-1", IncidentID: inc.ID, Key: key, DraftedBy: dpo.UserID, Actor: dpo, Fields: fields})
	}).(activities.DraftRef)
	if fd.calls != 1 {
		t.Fatalf("rendered %d times", fd.calls)
	}
	html, _ := st.DraftHTML(ctx, v1.ID)
	sum := sha256.Sum256(html)
	if v1.Version != 1 || v1.ContentHash != hex.EncodeToString(sum[:]) || v1.HasDelayReasons || v1.DraftedBy != dpo.UserID {
		t.Fatalf("v1 %+v", v1)
	}
	// The approver returns it; the DPO writes version 2 with delay reasons.
	twice("return v1", func() (any, error) {
		return nil, a.DecideDraft(ctx, activities.DecideDraftInput{OpKey: gwf + "/decide-1", IncidentID: inc.ID, DraftID: v1.ID, Actor: approver, Comment: "add consequences"})
	})
	fields.DelayReasons = "forensics took time"
	v2 := twice("save v2", func() (any, error) {
		return a.SaveDraft(ctx, activities.SaveDraftInput{OpKey: gwf + "/save-2", IncidentID: inc.ID, Key: key, BaseVersion: 1, DraftedBy: dpo.UserID, Actor: dpo, Fields: fields})
	}).(activities.DraftRef)
	if v2.Version != 2 || !v2.HasDelayReasons || v2.ContentHash == v1.ContentHash {
		t.Fatalf("v2 %+v", v2)
	}
	twice("approve v2", func() (any, error) {
		return nil, a.DecideDraft(ctx, activities.DecideDraftInput{OpKey: gwf + "/decide-2", IncidentID: inc.ID, DraftID: v2.ID, Actor: approver, Approve: true, Comment: "ok"})
	})
	filingID := twice("file", func() (any, error) {
		return a.RecordFiling(ctx, activities.FilingInput{OpKey: gwf + "/file-1", IncidentID: inc.ID, Key: key, DraftID: v2.ID, Actor: dpo,
			FiledAt: time.Now(), Channel: "cnil_online", Reference: "CNIL-2026-42"})
	}).(string)
	filings, _ := st.Filings(ctx, inc.ID)
	if len(filings) != 1 || filings[0].ID != filingID || filings[0].ContentHash != v2.ContentHash || filings[0].DraftVersionID != v2.ID {
		t.Fatalf("filings %+v", filings)
	}
	drafts, _ := st.Drafts(ctx, inc.ID)
	if len(drafts) != 2 || drafts[0].State != breach.DraftSuperseded || drafts[1].State != breach.DraftFiled {
		t.Fatalf("draft states: %+v", drafts)
	}

	// Alarms, by their timer keys.
	twice("reminder", func() (any, error) {
		return nil, a.RecordAlarm(ctx, activities.AlarmInput{OpKey: gwf + "/alarm/initial/reminder/24h", IncidentID: inc.ID, Regime: breach.RegimeGDPR,
			Stage: breach.StageInitial, Kind: activities.AlarmReminder, Before: 24 * time.Hour, DueAt: newAware.Add(72 * time.Hour)})
	})
	twice("escalation", func() (any, error) {
		return nil, a.RecordAlarm(ctx, activities.AlarmInput{OpKey: gwf + "/alarm/initial/escalation", IncidentID: inc.ID, Regime: breach.RegimeGDPR,
			Stage: breach.StageInitial, Kind: activities.AlarmEscalation, DueAt: newAware.Add(72 * time.Hour)})
	})
	twice("close", func() (any, error) {
		r, err := a.CloseIncident(ctx, activities.CloseInput{OpKey: wf + "/close", IncidentID: inc.ID, Actor: dpo, Summary: "contained, all filed"})
		if r.ClosedAt == nil || r.PurgeAfter != nil {
			t.Errorf("close result %+v: no retention given, no purge due", r)
		}
		return fmt.Sprint(r.State, r.ClosedAt), err
	})

	want := []string{
		"incident.opened", "assessment.decided", "assessment.decided", "incident.aware_at_changed",
		"draft.saved", "draft.returned", "draft.saved", "draft.approved", "filing.recorded",
		"deadline.reminder", "deadline.escalation", "incident.closed",
	}
	if got := actions(t, st, inc.ID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions\n got %v\nwant %v", got, want)
	}
	if n := count(t, st, `SELECT count(*) FROM applied_ops`); n != len(want)-1 {
		t.Fatalf("%d applied operations, want %d", n, len(want)-1)
	}
	if n := count(t, st, `SELECT count(*) FROM draft_versions`); n != 2 {
		t.Fatalf("%d draft versions", n)
	}

	rows, _ := st.AuditLog(ctx, inc.ID)
	for _, r := range rows {
		if r.Action == "incident.aware_at_changed" && (!strings.Contains(string(r.Before), "aware_at") || !strings.Contains(string(r.After), "log review")) {
			t.Errorf("aware_at row without before/after: %s / %s", r.Before, r.After)
		}
		if strings.Contains(string(r.Before)+string(r.After), dpoEmail) || strings.Contains(string(r.Before)+string(r.After), dpoPerson) {
			t.Errorf("audit row %d (%s) holds contact details", r.ID, r.Action)
		}
		if r.Action != "incident.opened" && r.WorkflowID != wf && r.WorkflowID != gwf {
			t.Errorf("audit row %d (%s) has workflow id %q", r.ID, r.Action, r.WorkflowID)
		}
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}

	// Closed: further changes are conflicts.
	err := a.ChangeAwareAt(ctx, activities.ChangeAwareAtInput{OpKey: wf + "/aware-late", IncidentID: inc.ID, Actor: dpo, AwareAt: newAware, Reason: "x"})
	assertNonRetryable(t, err, breach.ErrConflict)
}

func assertNonRetryable(t *testing.T, err error, code breach.Code) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an application error", err, err)
	}
	if !ae.NonRetryable() || ae.Type() != activities.ErrorType(code) {
		t.Fatalf("error %v: non-retryable %v type %q, want non-retryable %q", err, ae.NonRetryable(), ae.Type(), activities.ErrorType(code))
	}
}

func TestPermanentFailuresAreNonRetryable(t *testing.T) {
	ctx := context.Background()
	a, _, inc := newEnv(t)
	key := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, Seq: 1}

	_, err := a.RecordAssessment(ctx, activities.AssessInput{OpKey: "k1", IncidentID: "00000000-0000-4000-8000-000000000000", Actor: dpo, Reason: "x"})
	assertNonRetryable(t, err, breach.ErrNotFound)
	_, err = a.RecordAssessment(ctx, activities.AssessInput{OpKey: "k1b", IncidentID: "not-a-uuid", Actor: dpo, Reason: "x"})
	assertNonRetryable(t, err, breach.ErrNotFound)
	_, err = a.RecordAssessment(ctx, activities.AssessInput{OpKey: "k2", IncidentID: inc.ID, Actor: dpo, Risk: ptr(breach.Risk("extreme"))})
	assertNonRetryable(t, err, breach.ErrInvalid)
	_, err = a.SaveDraft(ctx, activities.SaveDraftInput{OpKey: "k3", IncidentID: inc.ID, Key: breach.DraftKey{Regime: breach.RegimeNIS2, Stage: breach.StageEarlyWarning, Seq: 1}, Actor: dpo})
	assertNonRetryable(t, err, breach.ErrInvalid) // NIS2 not enabled on this incident
	ref, err := a.SaveDraft(ctx, activities.SaveDraftInput{OpKey: "k4", IncidentID: inc.ID, Key: key, Actor: dpo})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.SaveDraft(ctx, activities.SaveDraftInput{OpKey: "k5", IncidentID: inc.ID, Key: key, BaseVersion: 0, Actor: dpo})
	assertNonRetryable(t, err, breach.ErrConflict) // stale base version
	err = a.DecideDraft(ctx, activities.DecideDraftInput{OpKey: "k6", IncidentID: inc.ID, DraftID: ref.ID, Actor: dpo, Approve: true})
	assertNonRetryable(t, err, breach.ErrForbidden) // four-eyes
	_, err = a.RecordFiling(ctx, activities.FilingInput{OpKey: "k7", IncidentID: inc.ID, Key: key, DraftID: ref.ID, Actor: dpo, FiledAt: time.Now(), Channel: "email", Reference: "R"})
	assertNonRetryable(t, err, breach.ErrConflict) // not approved
	err = a.RecordAlarm(ctx, activities.AlarmInput{OpKey: "k8", IncidentID: inc.ID, Kind: "siren"})
	assertNonRetryable(t, err, breach.ErrInvalid)
	_, err = a.CloseIncident(ctx, activities.CloseInput{IncidentID: inc.ID, Actor: dpo})
	assertNonRetryable(t, err, breach.ErrInvalid) // no operation key

	// None of the refused operations was recorded, so a fixed retry can run.
	if n := count(t, a.Store, `SELECT count(*) FROM applied_ops`); n != 1 {
		t.Fatalf("%d applied operations, want 1", n)
	}
}

// TestInActivityEnvironment runs activities through the SDK's activity test
// environment: audit rows name the calling workflow execution, and failures
// arrive as the workflows will see them.
func TestInActivityEnvironment(t *testing.T) {
	a, _, inc := newEnv(t)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	val, err := env.ExecuteActivity(a.RecordAssessment, activities.AssessInput{OpKey: "env-1", IncidentID: inc.ID, Actor: dpo, Reason: "agreed"})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.AssessResult
	if err := val.Get(&res); err != nil || res.AssessmentID == "" {
		t.Fatalf("%+v %v", res, err)
	}
	rows, _ := a.Store.AuditLog(context.Background(), inc.ID)
	last := rows[len(rows)-1]
	if last.Action != "assessment.decided" || last.WorkflowID == "" || last.RunID == "" || last.WorkflowID == breach.WorkflowID(inc.ID) {
		t.Fatalf("audit row does not name the activity's workflow execution: %+v", last)
	}

	_, err = env.ExecuteActivity(a.CloseIncident, activities.CloseInput{OpKey: "env-2", IncidentID: "00000000-0000-4000-8000-000000000000", Actor: dpo})
	assertNonRetryable(t, err, breach.ErrNotFound)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		var be *breach.Error
		if err := ae.Details(&be); err != nil || be == nil || be.Code != breach.ErrNotFound {
			t.Fatalf("details: %+v %v", be, err)
		}
	}
}
