package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/api"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/webhook"
)

// completionEnv is the API with an incident of 20 people, 18 of them with an
// account (FT-1..FT-20 but FT-7 and FT-14), whose reset rows exist.
type completionEnv struct {
	t        *testing.T
	st       *store.Store
	url      string
	secret   []byte
	incident string
}

func newCompletionEnv(t *testing.T) *completionEnv {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("an inbound secret of at least thirty-two characters")
	svc := &app.Service{Store: st, Vault: v}
	srv := httptest.NewServer((&api.Server{App: svc, Store: st, InboundSecrets: [][]byte{secret}}).Handler())
	t.Cleanup(srv.Close)
	dpoActor := breach.Actor{UserID: "dpo", Role: breach.RoleDPO}
	inc, _, err := st.CreateIncident(ctx, dpoActor, demo.Incident(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString(csvHeader)
	for i := 1; i <= 20; i++ {
		acct := fmt.Sprintf("FT-%d", i)
		if i%7 == 0 {
			acct = ""
		}
		fmt.Fprintf(&csv, "p%d@example.org,Prénom,Nom%d,,fr,%s\n", i, i, acct)
	}
	if _, err := svc.ImportPeople(ctx, dpoActor, inc.ID, strings.NewReader(csv.String()), app.ImportPeopleInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Do(ctx, store.Op{Key: "start"}, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		if _, _, err := tx.StartCredentialTrack(ctx, dpoActor, store.StartTrackInput{IncidentID: inc.ID,
			Config: json.RawMessage(`{"kind":"webhook","webhook":{"url":"https://idp.example.org/b","secret":"env:S"}}`)}); err != nil {
			return nil, err
		}
		return tx.CreateResetRows(ctx, v, inc.ID, 1, 20, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &completionEnv{t: t, st: st, url: srv.URL, secret: secret, incident: inc.ID}
}

// post sends body to the completion endpoint with the given signature
// header ("" for none) and returns the status and the decoded answer.
func (e *completionEnv) post(body, sig string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/incidents/"+e.incident+"/accounts/completed", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(webhook.Header, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (e *completionEnv) sign(body string, at time.Time) string {
	return webhook.Sign(e.secret, []byte(body), at)
}

// state is what a refused webhook must leave unchanged: the completions,
// and the audit rows by action.
func (e *completionEnv) state() (int64, map[string]int) {
	e.t.Helper()
	p, err := e.st.AccountsProgress(context.Background(), e.incident)
	if err != nil {
		e.t.Fatal(err)
	}
	log, err := e.st.AuditLog(context.Background(), e.incident)
	if err != nil {
		e.t.Fatal(err)
	}
	byAction := map[string]int{}
	for _, r := range log {
		byAction[r.Action]++
	}
	return p.Counts.Completed, byAction
}

func TestCompletionWebhookRefusesBadSignatures(t *testing.T) {
	e := newCompletionEnv(t)
	body := `{"accounts":[{"account_id":"FT-1"},{"account_id":"FT-2"}]}`
	other := webhook.Sign([]byte("another secret, not the one the engine holds"), []byte(body), time.Now())
	cases := []struct {
		name, sig string
		want      string
	}{
		{"missing", "", "missing"},
		{"wrong secret", other, "does not match"},
		{"body changed", e.sign(`{"accounts":[{"account_id":"FT-3"}]}`, time.Now()), "does not match"},
		{"expired", e.sign(body, time.Now().Add(-10*time.Minute)), "too old"},
		{"future", e.sign(body, time.Now().Add(10*time.Minute)), "future"},
		{"malformed", "t=abc,v1=zz", "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			completed, before := e.state()
			status, out := e.post(body, c.sig)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d %v, want 401", status, out)
			}
			if msg := fmt.Sprint(out["error"]); !strings.Contains(msg, c.want) {
				t.Errorf("error %s, want it to say %q", msg, c.want)
			}
			after, audit := e.state()
			if after != completed || audit["accounts.completed"] != before["accounts.completed"] {
				t.Errorf("a refused webhook changed something: completed %d -> %d", completed, after)
			}
			if audit["update.rejected"] != before["update.rejected"]+1 {
				t.Errorf("refusals audited %d -> %d, want one more", before["update.rejected"], audit["update.rejected"])
			}
		})
	}

	// Signed right: accepted once, the replay refused.
	sig := e.sign(body, time.Now())
	status, out := e.post(body, sig)
	if status != http.StatusOK || out["matched"] != float64(2) {
		t.Fatalf("signed report: %d %v", status, out)
	}
	completed, before := e.state()
	status, out = e.post(body, sig)
	if status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(out["error"]), "already received") {
		t.Fatalf("replay: %d %v", status, out)
	}
	after, audit := e.state()
	if after != completed || completed != 2 || audit["update.rejected"] != before["update.rejected"]+1 || audit["accounts.completed"] != 1 {
		t.Fatalf("replay changed something or was not audited: completed %d -> %d, audit %v", completed, after, audit)
	}
}

func TestCompletionWebhookCountsUnknownAndNamesBadFields(t *testing.T) {
	e := newCompletionEnv(t)
	send := func(body string) (int, map[string]any) {
		return e.post(body, e.sign(body, time.Now()))
	}
	// FT-7 belongs to nobody (person 7 has no account), ZZ-1 to no one at all;
	// FT-1 reported twice in one report counts once as matched.
	body := `{"accounts":[{"account_id":"FT-1","completed_at":"2026-11-20T10:00:00+01:00"},{"account_id":"FT-7"},
		{"account_id":" FT-2 "},{"account_id":"ZZ-1"},{"account_id":"bad id"}]}`
	status, out := send(body)
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, out)
	}
	if out["matched"] != float64(2) || out["unknown"] != float64(3) || out["already"] != float64(0) {
		t.Fatalf("answer %v", out)
	}
	if fmt.Sprint(out["unknown_at"]) != "[1 3 4]" {
		t.Errorf("unknown positions %v", out["unknown_at"])
	}
	if strings.Contains(fmt.Sprint(out), "FT-") {
		t.Errorf("the answer echoes account IDs: %v", out)
	}
	status, out = send(`{"accounts":[{"account_id":"FT-1"},{"account_id":"FT-3"}]}`)
	if status != http.StatusOK || out["already"] != float64(1) || out["matched"] != float64(1) {
		t.Fatalf("second report: %d %v", status, out)
	}
	p, err := e.st.AccountsProgress(context.Background(), e.incident)
	if err != nil {
		t.Fatal(err)
	}
	var perDay int64
	days := map[string]int64{}
	for _, d := range p.Daily {
		perDay += d.Completed
		days[d.Day] = d.Completed
	}
	if p.Counts.Completed != 3 || perDay != 3 || days["2026-11-20"] != 1 {
		t.Fatalf("progress %+v", p)
	}

	for _, c := range []struct{ body, field string }{
		{`{"accounts":[{"account_id":"FT-4"},{"account_id":""}]}`, "accounts[1].account_id"},
		{`{"accounts":[{"account_id":"FT-4","completed_at":"yesterday"}]}`, "accounts[0].completed_at"},
		{`{"acounts":[]}`, "acounts"},
		{`{}`, "accounts"},
		{`{"accounts":[{"account_id":4}]}`, "accounts.account_id"},
	} {
		completed, before := e.state()
		status, out := send(c.body)
		errObj, _ := out["error"].(map[string]any)
		if status != http.StatusBadRequest || errObj["field"] != c.field {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, status, out, c.field)
		}
		after, audit := e.state()
		if after != completed || audit["accounts.completed"] != before["accounts.completed"] {
			t.Errorf("%s: a refused report changed something", c.body)
		}
	}
	// Bad JSON is a 400 too, never a 500.
	status, _ = send(`{"accounts":[`)
	if status != http.StatusBadRequest {
		t.Errorf("truncated JSON: %d", status)
	}
}
