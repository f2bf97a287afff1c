package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/webhook"
)

// receiver is the organisation's webhook endpoint: it checks the signature,
// and answers per account as answer says (by account ID), or with status
// when status is not 200.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	answer func(action, accountID string) map[string]any
	seen   map[string]int // action "|" account ID -> requests
}

func newReceiver(t *testing.T, secret []byte) *receiver {
	rc := &receiver{status: http.StatusOK, seen: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := webhook.VerifyAny([][]byte{secret}, r.Header.Get(webhook.Header), body, time.Now(), 0); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.status != http.StatusOK {
			w.WriteHeader(rc.status)
			return
		}
		var req struct {
			Action   string        `json:"action"`
			Accounts []idp.Account `json:"accounts"`
		}
		_ = json.Unmarshal(body, &req)
		results := []map[string]any{}
		for _, a := range req.Accounts {
			rc.seen[req.Action+"|"+a.ID]++
			res := rc.answer(req.Action, a.ID)
			res["key"] = a.Key
			results = append(results, res)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// newResetFixture: an incident of n people with accounts "acct-<i>" (the
// 5th without one), its track started against the receiver, rows made.
func newResetFixture(t *testing.T, n int) (*activities.Activities, *store.Store, string, *receiver) {
	t.Helper()
	ctx := context.Background()
	a, _, inc := newEnv(t)
	st := a.Store
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	a.Vault = v
	rows := func(yield func(store.PersonRow, error) bool) {
		for i := range n {
			acct := fmt.Sprintf("acct-%d", i+1)
			if i == 4 {
				acct = ""
			}
			if !yield(store.PersonRow{Line: int64(i + 2), Email: fmt.Sprintf("p%d@example.org", i), Language: breach.French, AccountID: acct}, nil) {
				return
			}
		}
	}
	if _, err := st.ImportPeople(ctx, dpo, inc.ID, iter.Seq2[store.PersonRow, error](rows), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := []byte("synthetic webhook secret for the test")
	t.Setenv("TEST_IDP_SECRET", string(secret))
	rc := newReceiver(t, secret)
	rc.answer = func(string, string) map[string]any { return map[string]any{"result": "done"} }
	cfg := idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: rc.srv.URL + "/accounts", Secret: "env:TEST_IDP_SECRET"}}
	a.IdP = idp.Options{MaxAttempts: 1}
	if err := a.CheckConnector(ctx, activities.CheckConnectorInput{IncidentID: inc.ID, Config: &cfg}); err != nil {
		t.Fatal(err)
	}
	ref, err := a.StartReset(ctx, activities.StartResetInput{OpKey: "start", IncidentID: inc.ID, Actor: dpo, Config: cfg})
	if err != nil || ref.Accounts != int64(n-1) {
		t.Fatalf("start: %+v %v", ref, err)
	}
	if made, err := a.CreateResetRows(ctx, activities.CreateResetRowsInput{OpKey: "create", IncidentID: inc.ID, From: 1, To: int64(n)}); err != nil || made != int64(n-1) {
		t.Fatalf("create: %d %v", made, err)
	}
	return a, st, inc.ID, rc
}

func TestResetBatchThroughTheWebhookConnector(t *testing.T) {
	ctx := context.Background()
	a, st, inc, rc := newResetFixture(t, 12)
	rc.answer = func(action, id string) map[string]any {
		switch {
		case action == "force_reset" && id == "acct-2":
			return map[string]any{"result": "failed", "reason": "not found"}
		case action == "force_reset" && id == "acct-3":
			return map[string]any{"result": "retry", "reason": "locked", "retry_after": 3600}
		case action == "revoke_sessions" && id == "acct-4":
			return map[string]any{"result": "failed", "reason": "refused"}
		}
		return map[string]any{"result": "done"}
	}
	res, err := a.ResetBatch(ctx, activities.ResetBatchInput{IncidentID: inc, Round: 1, From: 1, To: 12, Cursor: 1, Limit: 100, Chunk: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Claimed != 11 || res.Done != 8 || res.Failed != 2 || res.Deferred != 1 || res.Next != 13 || res.Open != 1 || res.WakeAt == nil {
		t.Fatalf("result %+v", res)
	}
	rows, err := st.ResetRows(ctx, inc, 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	// The import numbers people its own way: compare by account.
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.PersonID
	}
	accts, err := st.ResetAccounts(ctx, a.Vault, inc, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]breach.ResetState{"acct-2": breach.ResetFailed, "acct-3": breach.ResetPending, "acct-4": breach.ResetFailed}
	for _, r := range rows {
		w, ok := want[accts[r.PersonID]]
		if !ok {
			w = breach.ResetDone
		}
		if r.State != w {
			t.Errorf("person %d: %s (%q), want %s", r.PersonID, r.State, r.Reason, w)
		}
	}
	if rc.seen["revoke_sessions|acct-2"] != 0 || rc.seen["revoke_sessions|acct-1"] != 1 {
		t.Errorf("sessions revoked for an account not reset, or not for one reset: %v", rc.seen)
	}
	p, err := st.AccountsProgress(ctx, inc)
	if err != nil || p.Counts.Done != 8 || p.Counts.Failed != 2 || p.Counts.Pending != 1 {
		t.Fatalf("progress %+v %v", p.Counts, err)
	}
	log, _ := st.AuditLog(ctx, inc)
	batches := 0
	for _, r := range log {
		if r.Action == "credentials.batch" {
			batches++
		}
		if strings.Contains(string(r.After), "acct-") {
			t.Errorf("audit row %s holds an account ID", r.Action)
		}
	}
	if batches != 1 {
		t.Errorf("%d batch audit rows, want 1", batches)
	}

	// The status poll: the provider says acct-1 and acct-6 completed.
	rc.answer = func(action, id string) map[string]any {
		if id == "acct-1" || id == "acct-6" {
			return map[string]any{"state": "complete"}
		}
		return map[string]any{"state": "pending"}
	}
	pr, err := a.PollStatus(ctx, activities.PollStatusInput{IncidentID: inc, Poll: 1, Chunk: 3})
	if err != nil || pr.Checked != 8 || pr.Completed != 2 || pr.Error != "" {
		t.Fatalf("poll %+v %v", pr, err)
	}
	if p, _ := st.AccountsProgress(ctx, inc); p.Counts.Completed != 2 || len(p.Daily) != 1 || p.Daily[0].Completed != 2 {
		t.Fatalf("after the poll: %+v", p)
	}
}

func TestResetBatchMisconfigurationPausesTheTrack(t *testing.T) {
	ctx := context.Background()
	a, st, inc, rc := newResetFixture(t, 6)
	rc.status = http.StatusNotFound
	res, err := a.ResetBatch(ctx, activities.ResetBatchInput{IncidentID: inc, Round: 1, From: 1, To: 6, Cursor: 1, Limit: 100})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != idp.ConfigErrorType || !ae.NonRetryable() {
		t.Fatalf("error %v, want a non-retryable %s", err, idp.ConfigErrorType)
	}
	tr, err := st.CredentialTrack(ctx, inc)
	if err != nil || tr.State != breach.TrackPaused || !strings.Contains(tr.LastError, "webhook.url") {
		t.Fatalf("track %+v %v", tr, err)
	}
	// Nothing is left running: the claimed rows went back to pending.
	if p, _ := st.AccountsProgress(ctx, inc); p.Counts.Pending != 5 || p.Counts.Running != 0 || res.Released != 5 {
		t.Fatalf("progress %+v, result %+v", p.Counts, res)
	}
	// The next batch finds the track paused and stops at once.
	rc.status = http.StatusOK
	res, err = a.ResetBatch(ctx, activities.ResetBatchInput{IncidentID: inc, Round: 1, From: 1, To: 6, Cursor: 1, Limit: 100})
	if err != nil || res.Stopped != breach.TrackPaused || res.Claimed != 0 {
		t.Fatalf("batch while paused: %+v %v", res, err)
	}
	// A provider down for now is retryable, after its hint.
	rc.status = http.StatusServiceUnavailable
	if _, err := st.Pool.Exec(ctx, `UPDATE credential_tracks SET state = 'running'`); err != nil {
		t.Fatal(err)
	}
	_, err = a.ResetBatch(ctx, activities.ResetBatchInput{IncidentID: inc, Round: 2, From: 1, To: 6, Cursor: 1, Limit: 100})
	if !errors.As(err, &ae) || ae.Type() != activities.ErrorTypeIdPTemporary || ae.NonRetryable() {
		t.Fatalf("provider down: %v", err)
	}
	if p, _ := st.AccountsProgress(ctx, inc); p.Counts.Pending != 5 || p.Counts.Running != 0 {
		t.Fatalf("after a temporary failure: %+v", p.Counts)
	}
}
