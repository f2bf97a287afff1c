package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	dpo      = breach.Actor{UserID: "11111111-1111-4111-8111-111111111111", Role: breach.RoleDPO}
	approver = breach.Actor{UserID: "22222222-2222-4222-8222-222222222222", Role: breach.RoleApprover}
)

func ptr[T any](v T) *T { return &v }

func sampleInput(ref string) breach.IncidentInput {
	detected := time.Date(2026, 3, 2, 9, 15, 30, 123456789, time.FixedZone("CET", 3600))
	return breach.IncidentInput{
		Reference:     ref,
		Title:         "Job-seeker records exfiltrated",
		Description:   "Attacker used a partner's account to export records.",
		Discovery:     "Alert from the SOC",
		DetectedAt:    detected,
		AwareAt:       detected.Add(5 * time.Hour),
		AwareAtReason: "Confirmed by forensic analysis",
		Controller: breach.Controller{
			Name: "Agence", SIREN: "130005481", LegalRepresentative: "Director",
			DPO: breach.Contact{Name: "Data Protection Officer", Email: "dpo@example.org"},
		},
		DataCategories:    []breach.DataCategory{breach.DataIdentification, breach.DataContact, breach.DataHealth},
		SubjectCategories: []breach.SubjectCategory{"job_seekers"},
		ApproxSubjects:    4800000,
		ApproxRecords:     4800000,
		BreachTypes:       []breach.BreachType{breach.Confidentiality},
		Cause:             "malicious_external",
		Ongoing:           false,
		Regimes:           []breach.RegimeCode{breach.RegimeNIS2},
		Circumstances: breach.Circumstances{
			EaseOfIdentification: ptr(breach.EaseMaximum),
			Recipients:           ptr(breach.RecipientsUnknown),
			Malicious:            ptr(true),
		},
	}
}

func code(err error) breach.Code { return breach.ErrorCode(err) }

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewEmptyDatabaseURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = store.Migrate(ctx, url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate %d: %v", i, err)
		}
	}
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate through the pool: %v", err)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != store.LatestVersion() || v < 1 {
		t.Fatalf("schema version %d, want %d", v, store.LatestVersion())
	}
}

func TestCreateIncident(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	in := sampleInput("CERT-2026-001")

	inc, created, err := st.CreateIncident(ctx, dpo, in)
	if err != nil || !created {
		t.Fatalf("create: %v, created=%v", err, created)
	}
	if inc.State != breach.StateOpen || inc.CreatedBy != dpo.UserID || inc.ID == "" {
		t.Fatalf("unexpected incident %+v", inc)
	}
	if want := []breach.RegimeCode{breach.RegimeGDPR, breach.RegimeNIS2}; fmt.Sprint(inc.Regimes) != fmt.Sprint(want) {
		t.Errorf("regimes %v, want %v", inc.Regimes, want)
	}
	if !inc.DetectedAt.Equal(in.DetectedAt.Truncate(time.Microsecond)) || inc.DetectedAt.Location() != time.UTC {
		t.Errorf("detected_at %v, want %v in UTC", inc.DetectedAt, in.DetectedAt)
	}

	again, created, err := st.CreateIncident(ctx, dpo, in)
	if err != nil || created || again.ID != inc.ID {
		t.Fatalf("repeat with the same reference: id %s created=%v err=%v; want %s, false", again.ID, created, err, inc.ID)
	}

	got, err := st.GetIncident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	incJSON, _ := json.Marshal(inc)
	if string(gotJSON) != string(incJSON) {
		t.Errorf("read back differs:\n got %s\nwant %s", gotJSON, incJSON)
	}
	if got.Controller.DPO.Email != "dpo@example.org" || *got.Circumstances.Recipients != breach.RecipientsUnknown {
		t.Errorf("jsonb fields not read back: %+v", got)
	}

	// Without a reference every call opens a new incident.
	a, _, err := st.CreateIncident(ctx, dpo, sampleInput(""))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := st.CreateIncident(ctx, dpo, sampleInput(""))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID {
		t.Fatal("two incidents without reference share an id")
	}
	list, err := st.ListIncidents(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %d incidents, err %v", len(list), err)
	}

	for _, id := range []string{"nope", "", "00000000-0000-4000-8000-000000000000", "'; drop table incidents; --"} {
		_, err := st.GetIncident(ctx, id)
		if code(err) != breach.ErrNotFound {
			t.Errorf("GetIncident(%q): %v, want not found", id, err)
		}
	}

	rows, err := st.AuditLog(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Action != "incident.opened" || rows[0].WorkflowID != breach.WorkflowID(inc.ID) {
		t.Fatalf("audit rows of the incident: %+v", rows)
	}
	if strings.Contains(string(rows[0].After), "dpo@example.org") {
		t.Error("audit row holds a contact detail")
	}
}

func TestCreateIncidentConcurrentSameReference(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	var wg sync.WaitGroup
	var createdCount atomic.Int32
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inc, created, err := st.CreateIncident(ctx, dpo, sampleInput("SAME"))
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				createdCount.Add(1)
			}
			ids[i] = inc.ID
		}()
	}
	wg.Wait()
	if createdCount.Load() != 1 {
		t.Fatalf("%d creations, want 1", createdCount.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("different ids: %v", ids)
		}
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)

	v, err := st.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Rows != 0 {
		t.Fatalf("empty log: %+v %v", v, err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := st.CreateIncident(ctx, dpo, sampleInput(fmt.Sprintf("REF-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Awkward JSON: numbers that do not survive a float round trip, key order,
	// unicode and HTML characters.
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Audit(ctx, store.AuditEntry{
			Actor: breach.System, Action: "test.awkward",
			Before: json.RawMessage(`{"z":1.50,"a":1e2,"big":12345678901234567890,"s":"é <&> \u00e9"}`),
			After:  map[string]any{"nested": map[string]any{"b": 2, "a": []any{1.25, nil, true}}},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordRejection(ctx, "", breach.Actor{UserID: approver.UserID, Role: breach.RoleAuditor}, "assess", "role auditor may not assess"); err != nil {
		t.Fatal(err)
	}

	v, err = st.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Rows != 5 {
		t.Fatalf("intact log: %+v %v", v, err)
	}

	rows, err := st.AuditLog(ctx, "")
	if err != nil || len(rows) != 5 {
		t.Fatalf("audit log: %d rows %v", len(rows), err)
	}
	if rows[4].Action != "update.rejected" || rows[0].PrevHash != strings.Repeat("00", 32) || rows[1].PrevHash != rows[0].Hash {
		t.Fatalf("chain shape: %+v", rows)
	}

	target := rows[2].ID
	if _, err := st.Pool.Exec(ctx, `UPDATE audit_log SET after = '{"state":"closed"}' WHERE id = $1`, target); err != nil {
		t.Fatal(err)
	}
	v, err = st.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || v.FirstBadID != target || v.Rows != 5 {
		t.Fatalf("after tampering with row %d: %+v", target, v)
	}
	t.Logf("tampered row %d: %s", target, v.Reason)
}

func TestAuditChainDetectsDeletion(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	for i := 0; i < 3; i++ {
		if _, _, err := st.CreateIncident(ctx, dpo, sampleInput(fmt.Sprintf("REF-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := st.AuditLog(ctx, "")
	if _, err := st.Pool.Exec(ctx, `DELETE FROM audit_log WHERE id = $1`, rows[1].ID); err != nil {
		t.Fatal(err)
	}
	v, err := st.VerifyAudit(ctx)
	if err != nil || v.OK || v.FirstBadID != rows[2].ID {
		t.Fatalf("after deleting row %d: %+v %v; want first bad %d", rows[1].ID, v, err, rows[2].ID)
	}
}

// TestAuditAnchorDetectsRowsRemovedAtTheEnd: deleting the last rows leaves a
// chain that verifies on its own; verifying against the head hash kept from
// an earlier run finds the removal.
func TestAuditAnchorDetectsRowsRemovedAtTheEnd(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	for i := 0; i < 3; i++ {
		if _, _, err := st.CreateIncident(ctx, dpo, sampleInput(fmt.Sprintf("REF-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := st.AuditLog(ctx, "")
	v, err := st.VerifyAudit(ctx)
	if err != nil || !v.OK || v.HeadID != rows[2].ID || v.HeadHash != rows[2].Hash {
		t.Fatalf("head: %+v %v", v, err)
	}
	anchor, err := store.ParseAuditHash("anchor", v.HeadHash)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.VerifyAuditAnchor(ctx, anchor); err != nil || !v.OK {
		t.Fatalf("anchored, intact: %+v %v", v, err)
	}
	if _, err := st.Pool.Exec(ctx, `DELETE FROM audit_log WHERE id = $1`, rows[2].ID); err != nil {
		t.Fatal(err)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("the chain alone cannot see a removed tail, yet: %+v %v", v, err)
	}
	v, err = st.VerifyAuditAnchor(ctx, anchor)
	if err != nil || v.OK || v.FirstBadID != rows[1].ID+1 {
		t.Fatalf("anchored, tail removed: %+v %v", v, err)
	}
	if _, err := store.ParseAuditHash("anchor", "xyz"); breach.ErrorCode(err) != breach.ErrInvalid {
		t.Fatalf("bad anchor: %v", err)
	}
}

func TestAuditConcurrentAppendsKeepOneChain(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, _, err := st.CreateIncident(ctx, dpo, sampleInput("")); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	v, err := st.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Rows != 40 {
		t.Fatalf("%+v %v", v, err)
	}
}

func TestDoIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	inc, _, err := st.CreateIncident(ctx, dpo, sampleInput("OPS"))
	if err != nil {
		t.Fatal(err)
	}
	op := store.Op{Key: "incident/" + inc.ID + "/close/1", WorkflowID: breach.WorkflowID(inc.ID), RunID: "run-1"}
	calls := 0
	run := func() (bool, string, error) {
		var out string
		replayed, err := st.Do(ctx, op, &out, func(ctx context.Context, tx *store.Tx) (any, error) {
			calls++
			closed, _, err := tx.CloseIncident(ctx, dpo, inc.ID, "contained", 0)
			return string(closed.State), err
		})
		return replayed, out, err
	}
	replayed, out, err := run()
	if err != nil || replayed || out != "closed" {
		t.Fatalf("first: %v %v %q", err, replayed, out)
	}
	replayed, out, err = run()
	if err != nil || !replayed || out != "closed" || calls != 1 {
		t.Fatalf("second: %v replayed=%v %q calls=%d", err, replayed, out, calls)
	}
	rows, _ := st.AuditLog(ctx, inc.ID)
	if len(rows) != 2 || rows[1].Action != "incident.closed" || rows[1].RunID != "run-1" {
		t.Fatalf("audit rows: %+v", rows)
	}

	// A failed operation leaves nothing behind and can be retried.
	failing := store.Op{Key: "failing"}
	_, err = st.Do(ctx, failing, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		if _, err := tx.Audit(ctx, store.AuditEntry{Actor: dpo, Action: "test.half"}); err != nil {
			return nil, err
		}
		return nil, errors.New("boom")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if ok, _ := st.Applied(ctx, "failing"); ok {
		t.Fatal("failed operation recorded as applied")
	}
	if all, _ := st.AuditLog(ctx, ""); len(all) != 2 {
		t.Fatalf("failed operation left audit rows: %d", len(all))
	}
	if _, err := st.Do(ctx, store.Op{}, nil, nil); code(err) != breach.ErrInvalid {
		t.Fatalf("empty key: %v", err)
	}
}

func TestDraftApprovalFilingAndRegister(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	inc, _, err := st.CreateIncident(ctx, dpo, sampleInput("DRAFTS"))
	if err != nil {
		t.Fatal(err)
	}
	key := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial}
	fields := breach.DraftFields{Language: breach.French, Nature: "Exfiltration", DelayReasons: ""}

	save := func(actor breach.Actor, key breach.DraftKey, base int) (breach.DraftVersion, error) {
		var d breach.DraftVersion
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			slot, err := tx.PrepareDraft(ctx, actor, inc.ID, key, base)
			if err != nil {
				return err
			}
			html := []byte(fmt.Sprintf("<p>v%d</p>", slot.Version))
			sum := sha256.Sum256(html)
			d, err = tx.SaveDraftVersion(ctx, actor, slot, fields, html, nil, fmt.Sprintf("%x", sum))
			return err
		})
		return d, err
	}
	decide := func(actor breach.Actor, id string, approve bool) (breach.DraftVersion, error) {
		var d breach.DraftVersion
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			d, err = tx.DecideDraft(ctx, actor, inc.ID, id, approve, "ok")
			return err
		})
		return d, err
	}

	v1, err := save(dpo, key, 0)
	if err != nil || v1.Version != 1 || v1.Key.Seq != 1 || v1.State != breach.DraftPending {
		t.Fatalf("v1: %+v %v", v1, err)
	}
	if _, err := save(dpo, key, 0); code(err) != breach.ErrConflict {
		t.Fatalf("second new draft on the same key: %v", err)
	}
	if _, err := save(dpo, breach.DraftKey{Regime: "nope", Stage: breach.StageInitial}, 0); code(err) != breach.ErrInvalid {
		t.Fatalf("unknown regime: %v", err)
	}
	// The approver edits: version 2 is theirs, the draft is still the DPO's.
	v2, err := save(approver, key, 1)
	if err != nil || v2.Version != 2 || v2.DraftedBy != dpo.UserID || v2.EditedBy != approver.UserID {
		t.Fatalf("v2: %+v %v", v2, err)
	}
	if _, err := decide(breach.Actor{UserID: "33333333-3333-4333-8333-333333333333", Role: breach.RoleApprover}, v1.ID, true); code(err) != breach.ErrConflict {
		t.Fatalf("approving a superseded version: %v", err)
	}
	if _, err := decide(approver, v2.ID, true); code(err) != breach.ErrForbidden {
		t.Fatalf("editor approving: %v", err)
	}
	if _, err := decide(dpo, v2.ID, true); code(err) != breach.ErrForbidden {
		t.Fatalf("drafter approving: %v", err)
	}
	if _, err := save(dpo, key, 3); code(err) != breach.ErrConflict {
		t.Fatalf("stale base: %v", err)
	}
	third := breach.Actor{UserID: "33333333-3333-4333-8333-333333333333", Role: breach.RoleApprover}
	approved, err := decide(third, v2.ID, true)
	if err != nil || approved.State != breach.DraftApproved || approved.ApprovedBy != third.UserID || approved.ApprovedAt == nil {
		t.Fatalf("approve: %+v %v", approved, err)
	}

	var filing breach.Filing
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		filing, err = tx.RecordFiling(ctx, dpo, breach.Filing{
			IncidentID: inc.ID, Key: key, DraftVersionID: v2.ID, FiledAt: time.Now(), Channel: "cnil_online", Reference: "CNIL-123",
		})
		return err
	})
	if err != nil || filing.ContentHash != v2.ContentHash || filing.Key != v2.Key {
		t.Fatalf("filing: %+v %v", filing, err)
	}
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RecordFiling(ctx, dpo, breach.Filing{DraftVersionID: v2.ID, FiledAt: time.Now(), Channel: "email"})
		return err
	})
	if code(err) != breach.ErrConflict {
		t.Fatalf("filing twice: %v", err)
	}

	// Complementary filings open with Seq 0 and get the next number.
	comp := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageComplementary}
	c1, err := save(dpo, comp, 0)
	if err != nil || c1.Key.Seq != 1 {
		t.Fatalf("complementary 1: %+v %v", c1, err)
	}
	c2, err := save(dpo, comp, 0)
	if err != nil || c2.Key.Seq != 2 {
		t.Fatalf("complementary 2: %+v %v", c2, err)
	}
	if _, err := decide(third, c2.ID, false); err != nil {
		t.Fatalf("return: %v", err)
	}

	drafts, err := st.Drafts(ctx, inc.ID)
	if err != nil || len(drafts) != 4 {
		t.Fatalf("drafts: %d %v", len(drafts), err)
	}
	html, err := st.DraftHTML(ctx, v2.ID)
	if err != nil || string(html) != "<p>v2</p>" {
		t.Fatalf("html: %q %v", html, err)
	}
	if _, err := st.DraftHTML(ctx, "x"); code(err) != breach.ErrNotFound {
		t.Fatalf("html of a bad id: %v", err)
	}

	// Assessment, for the register.
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RecordAssessment(ctx, dpo, breach.AssessmentRecord{
			IncidentID: inc.ID, Facts: inc.Facts(), Proposed: breach.Assessment{Risk: breach.RiskHigh, Reasons: []string{"health data"}},
			Decided: breach.RiskHigh, Reason: "agreed",
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateIncident(ctx, dpo, sampleInput("UNASSESSED")); err != nil {
		t.Fatal(err)
	}
	reg, err := st.Register(ctx)
	if err != nil || len(reg) != 2 {
		t.Fatalf("register: %d %v", len(reg), err)
	}
	e := reg[0]
	if e.Incident.ID != inc.ID || e.Incident.State != breach.StateAssessed || e.Assessment == nil || e.Assessment.Reason != "agreed" ||
		len(e.Filings) != 1 || len(e.Drafts) != 3 {
		t.Fatalf("register entry: %+v", e)
	}
	if reg[1].Assessment != nil || len(reg[1].Filings) != 0 {
		t.Fatalf("unassessed entry: %+v", reg[1])
	}
	v, err := st.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func TestUsersAndTokens(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	admin := breach.Actor{UserID: "system", Role: breach.RoleAdmin}

	u, err := st.CreateUser(ctx, admin, store.NewUser{Username: "alice", DisplayName: "Alice", Role: breach.RoleDPO, PasswordHash: "$argon2id$v=19$..."})
	if err != nil || u.ID == "" || u.Role != breach.RoleDPO {
		t.Fatalf("create: %+v %v", u, err)
	}
	if _, err := st.CreateUser(ctx, admin, store.NewUser{Username: "alice", Role: breach.RoleAuditor}); code(err) != breach.ErrConflict {
		t.Fatalf("duplicate username: %v", err)
	}
	if _, err := st.CreateUser(ctx, admin, store.NewUser{Username: "bob", Role: "king"}); code(err) != breach.ErrInvalid {
		t.Fatalf("bad role: %v", err)
	}
	byName, err := st.UserByUsername(ctx, "alice")
	if err != nil || byName.ID != u.ID || byName.PasswordHash != "$argon2id$v=19$..." {
		t.Fatalf("by username: %+v %v", byName, err)
	}
	if _, err := st.UserByUsername(ctx, "nobody"); code(err) != breach.ErrNotFound {
		t.Fatalf("unknown username: %v", err)
	}
	if byID, err := st.UserByID(ctx, u.ID); err != nil || byID.Username != "alice" {
		t.Fatalf("by id: %+v %v", byID, err)
	}
	if _, err := st.UserByID(ctx, "bad"); code(err) != breach.ErrNotFound {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := st.CreateUser(ctx, admin, store.NewUser{Username: "bob", Role: breach.RoleApprover}); err != nil {
		t.Fatal(err)
	}
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "alice" {
		t.Fatalf("list: %+v %v", users, err)
	}
	if b, _ := json.Marshal(users[0]); strings.Contains(string(b), "argon2id") {
		t.Fatal("password hash in JSON")
	}

	token := sha256.Sum256([]byte("secret-token"))
	if err := st.CreateAPIToken(ctx, admin, u.ID, "cli", token[:]); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIToken(ctx, admin, u.ID, "cli", token[:]); code(err) != breach.ErrConflict {
		t.Fatalf("duplicate token: %v", err)
	}
	if err := st.CreateAPIToken(ctx, admin, "00000000-0000-4000-8000-000000000000", "x", []byte("other")); code(err) != breach.ErrNotFound {
		t.Fatalf("token of unknown user: %v", err)
	}
	owner, err := st.UserByTokenHash(ctx, token[:])
	if err != nil || owner.ID != u.ID {
		t.Fatalf("by token: %+v %v", owner, err)
	}
	var lastUsed *time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT last_used_at FROM api_tokens`).Scan(&lastUsed); err != nil || lastUsed == nil {
		t.Fatalf("last_used_at: %v %v", lastUsed, err)
	}
	if _, err := st.UserByTokenHash(ctx, []byte("unknown")); code(err) != breach.ErrNotFound {
		t.Fatalf("unknown token: %v", err)
	}

	if err := st.SetUserDisabled(ctx, admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByTokenHash(ctx, token[:]); code(err) != breach.ErrNotFound {
		t.Fatalf("token of disabled user: %v", err)
	}
	if err := st.SetUserDisabled(ctx, admin, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIToken(ctx, admin, token[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UserByTokenHash(ctx, token[:]); code(err) != breach.ErrNotFound {
		t.Fatalf("revoked token: %v", err)
	}
	if err := st.RevokeAPIToken(ctx, admin, token[:]); code(err) != breach.ErrNotFound {
		t.Fatalf("revoking twice: %v", err)
	}

	rows, err := st.AuditLog(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action)
	}
	want := "user.created user.created token.created user.disabled user.enabled token.revoked"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit actions %q, want %q", actions, want)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func TestAuditLogOfUnknownIncident(t *testing.T) {
	st := pgtest.NewStore(t)
	if _, err := st.AuditLog(context.Background(), "bad"); code(err) != breach.ErrNotFound {
		t.Fatalf("%v", err)
	}
	rows, err := st.AuditLog(context.Background(), "00000000-0000-4000-8000-000000000000")
	if err != nil || len(rows) != 0 {
		t.Fatalf("%v %v", rows, err)
	}
}

func TestCreateIncidentRefusesInvalidInput(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	in := sampleInput("BAD")
	in.AwareAt = in.DetectedAt.Add(-time.Hour)
	in.ApproxSubjects = -1
	_, _, err := st.CreateIncident(ctx, dpo, in)
	var be *breach.Error
	if !errors.As(err, &be) || be.Code != breach.ErrInvalid || be.Field != "aware_at" {
		t.Fatalf("got %v", err)
	}
	if list, _ := st.ListIncidents(ctx); len(list) != 0 {
		t.Fatal("an invalid incident was written")
	}
	if rows, _ := st.AuditLog(ctx, ""); len(rows) != 0 {
		t.Fatal("an invalid incident was audited")
	}
}
