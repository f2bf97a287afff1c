package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/api"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/webhook"
)

// The abuse-signals webhook: signed with BREACH_INBOUND_SECRET, decoded
// strictly, stored with its audit row; account IDs only as blind indexes.

var inboundSecret = []byte("inbound-secret-of-the-organisation")

type signalsEnv struct {
	t        *testing.T
	st       *store.Store
	url      string
	incident string
	logs     *syncBuffer
}

func newSignalsEnv(t *testing.T) *signalsEnv {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	v, err := vault.FromSpec(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// No Temporal: the signals are stored and the answer says the
	// monitoring was not told.
	svc := &app.Service{Store: st, Logger: logger, Vault: v}
	srv := httptest.NewServer((&api.Server{App: svc, Store: st, Logger: logger, InboundSecrets: [][]byte{inboundSecret}}).Handler())
	t.Cleanup(srv.Close)
	inc, _, err := st.CreateIncident(ctx, breach.Actor{UserID: "dpo", Role: breach.RoleDPO}, demo.Incident(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return &signalsEnv{t: t, st: st, url: srv.URL, incident: inc.ID, logs: logs}
}

// post sends body with the given Breach-Signature header ("" : none).
func (e *signalsEnv) post(body, signature string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/incidents/"+e.incident+"/signals", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(webhook.Header, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (e *signalsEnv) stored() int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM abuse_signals WHERE incident_id = $1`, e.incident).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// audit counts the incident's audit rows by action.
func (e *signalsEnv) audit() map[string]int {
	e.t.Helper()
	rows, err := e.st.AuditLog(context.Background(), e.incident)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Action]++
	}
	return out
}

func signalsJSON(observed time.Time) string {
	return `{"signals":[` +
		`{"kind":"account_takeover","count":2,"observed_at":"` + observed.Format(time.RFC3339) + `","account_ids":["FT-7781-secret","FT-9912-secret"]},` +
		`{"kind":"suspicious_login","count":140,"observed_at":"` + observed.Format(time.RFC3339) + `"}]}`
}

func TestSignalsRefusedWithoutAValidSignature(t *testing.T) {
	e := newSignalsEnv(t)
	now := time.Now()
	body := signalsJSON(now.Add(-time.Hour))
	before := e.audit()["update.rejected"]
	cases := []struct {
		name, signature string
	}{
		{"missing", ""},
		{"wrong secret", webhook.Sign([]byte("not-the-secret"), []byte(body), now)},
		{"other body", webhook.Sign(inboundSecret, []byte(body+" "), now)},
		{"expired", webhook.Sign(inboundSecret, []byte(body), now.Add(-10*time.Minute))},
		{"from the future", webhook.Sign(inboundSecret, []byte(body), now.Add(10*time.Minute))},
	}
	for i, c := range cases {
		status, answer := e.post(body, c.signature)
		if status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", c.name, status, answer)
		}
		if got := e.audit()["update.rejected"] - before; got != i+1 {
			t.Errorf("%s: %d refusals audited so far, want %d", c.name, got, i+1)
		}
	}
	// Replayed: the same signed body twice; the first is taken.
	sig := webhook.Sign(inboundSecret, []byte(body), now)
	if status, answer := e.post(body, sig); status != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", status, answer)
	}
	if status, answer := e.post(body, sig); status != http.StatusUnauthorized || !strings.Contains(answer, "already received") {
		t.Errorf("replay: %d %s, want 401", status, answer)
	}
	if got := e.audit()["update.rejected"] - before; got != len(cases)+1 {
		t.Errorf("%d refusals audited, want %d", got, len(cases)+1)
	}
	if n := e.stored(); n != 2 {
		t.Errorf("%d signals stored, want the first delivery's 2 only", n)
	}
	if n := e.audit()["signals.received"]; n != 1 {
		t.Errorf("%d ingestions audited, want 1", n)
	}
}

func TestSignalsStoredWithBlindIndexesAndAudited(t *testing.T) {
	e := newSignalsEnv(t)
	ctx := context.Background()
	now := time.Now()
	body := signalsJSON(now.Add(-time.Hour))
	status, answer := e.post(body, webhook.Sign(inboundSecret, []byte(body), now))
	if status != http.StatusAccepted {
		t.Fatalf("%d %s", status, answer)
	}
	var res app.SignalsResult
	if err := json.Unmarshal([]byte(answer), &res); err != nil {
		t.Fatal(err)
	}
	want := []breach.SignalCount{{Kind: breach.SignalAccountTakeover, Count: 2, Accounts: 2}, {Kind: breach.SignalSuspiciousLogin, Count: 140}}
	if res.Signals != 2 || res.Monitoring != "not running" || len(res.Counts) != 2 || res.Counts[0] != want[0] || res.Counts[1] != want[1] {
		t.Errorf("answer %+v", res)
	}
	var accounts, indexes int
	if err := e.st.Pool.QueryRow(ctx, `SELECT sum(accounts), (SELECT count(*) FROM abuse_signal_accounts a JOIN abuse_signals s ON s.id = a.signal_id
		WHERE s.incident_id = $1) FROM abuse_signals WHERE incident_id = $1`, e.incident).Scan(&accounts, &indexes); err != nil {
		t.Fatal(err)
	}
	if accounts != 2 || indexes != 2 {
		t.Errorf("%d accounts counted, %d blind indexes, want 2 and 2", accounts, indexes)
	}
	// The account IDs are nowhere in clear: not in the tables, the audit
	// log or the logs.
	var dump string
	if err := e.st.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(s::text, ' '), '') || (SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_log a WHERE a.incident_id = $1)
		|| (SELECT coalesce(string_agg(encode(account_index, 'escape'), ' '), '') FROM abuse_signal_accounts)
		FROM abuse_signals s WHERE s.incident_id = $1`, e.incident).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, where := range []string{dump, e.logs.String()} {
		if strings.Contains(where, "secret") || strings.Contains(where, "FT-") {
			t.Errorf("an account ID in clear: %s", where)
		}
	}
	if e.audit()["signals.received"] != 1 {
		t.Errorf("ingestion not audited")
	}
	crossings, err := e.st.SignalCrossings(ctx, e.incident, now.Add(-2*time.Hour), breach.DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	if len(crossings) != 2 || crossings[0].Kind != breach.SignalAccountTakeover || crossings[0].Observed != 2 ||
		crossings[1].Kind != breach.SignalSuspiciousLogin || crossings[1].Observed != 140 || crossings[1].Window != 0 {
		t.Errorf("crossings %+v", crossings)
	}
}

func TestSignalsBadInputNamesTheField(t *testing.T) {
	e := newSignalsEnv(t)
	now := time.Now()
	ok := now.Add(-time.Minute).Format(time.RFC3339)
	cases := []struct {
		body, field string
	}{
		{`{"signals":[{"kind":"ddos","count":1,"observed_at":"` + ok + `"}]}`, "signals[0].kind"},
		{`{"signals":[{"kind":"phishing_report","count":0,"observed_at":"` + ok + `"}]}`, "signals[0].count"},
		{`{"signals":[{"kind":"phishing_report","count":1}]}`, "signals[0].observed_at"},
		{`{"signals":[{"kind":"phishing_report","count":1,"observed_at":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}]}`, "signals[0].observed_at"},
		{`{"signals":[{"kind":"phishing_report","count":1,"observed_at":"` + ok + `","accounts":["x"]}]}`, "accounts"},
		{`{"signals":[{"kind":"phishing_report","count":"many","observed_at":"` + ok + `"}]}`, "signals.count"},
		{`{"signals":[]}`, "signals"},
		{`{"signals":[{"kind":"phishing_report","count":1,"observed_at":"` + ok + `","account_ids":[""]}]}`, "signals[0].account_ids[0]"},
	}
	for _, c := range cases {
		status, answer := e.post(c.body, webhook.Sign(inboundSecret, []byte(c.body), now))
		var a struct {
			Error breach.Error `json:"error"`
		}
		_ = json.Unmarshal([]byte(answer), &a)
		if status != http.StatusBadRequest || a.Error.Field != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, status, answer, c.field)
		}
	}
	if n := e.stored(); n != 0 {
		t.Errorf("%d signals stored from bad input", n)
	}
	if n := e.audit()["signals.received"]; n != 0 {
		t.Errorf("%d ingestions audited from bad input", n)
	}
}
