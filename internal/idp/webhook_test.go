package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/webhook"
)

// orgReceiver is the organisation's endpoint, as its documentation tells it
// to be written: verify the signature, act once per account key, answer one
// result per account. fail holds statuses to answer before behaving.
type orgReceiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	fail     []int // answered first, one per request
	attempts []attempt
	reset    map[string]bool // account ID -> must reset
	complete map[string]bool // account ID -> reset completed
	actions  map[string]int  // account key -> times acted
	users    map[string]bool // known account IDs
}

type attempt struct {
	idempotencyKey string
	action         string
	status         int
	verifyErr      error
}

func newOrgReceiver(t *testing.T, secret string, users ...string) *orgReceiver {
	o := &orgReceiver{t: t, secret: []byte(secret), reset: map[string]bool{}, complete: map[string]bool{},
		actions: map[string]int{}, users: map[string]bool{}}
	for _, u := range users {
		o.users[u] = true
	}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *orgReceiver) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	a := attempt{idempotencyKey: r.Header.Get("Idempotency-Key")}
	defer func() { o.attempts = append(o.attempts, a) }()
	if r.URL.Path != "/breach/accounts" || r.Method != http.MethodPost {
		a.status = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	if err := webhook.Verify(o.secret, r.Header.Get(webhook.Header), body, time.Now(), 5*time.Minute); err != nil {
		a.status, a.verifyErr = http.StatusUnauthorized, err
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var req struct {
		Action   string `json:"action"`
		BatchKey string `json:"batch_key"`
		Accounts []struct {
			AccountID string `json:"account_id"`
			Key       string `json:"key"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.BatchKey != a.idempotencyKey {
		a.status = http.StatusBadRequest
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	a.action = req.Action
	if len(o.fail) > 0 {
		a.status = o.fail[0]
		o.fail = o.fail[1:]
		if a.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(a.status)
		return
	}
	a.status = http.StatusOK
	type result struct {
		Key        string `json:"key,omitempty"`
		AccountID  string `json:"account_id"`
		Result     string `json:"result,omitempty"`
		State      string `json:"state,omitempty"`
		Reason     string `json:"reason,omitempty"`
		RetryAfter int    `json:"retry_after,omitempty"`
	}
	results := []result{}
	for _, acc := range req.Accounts {
		res := result{Key: acc.Key, AccountID: acc.AccountID}
		switch {
		case acc.AccountID == "no-key-echo":
			res.Key = "" // matched by account ID
			res.Result = "done"
		case acc.AccountID == "forgotten":
			continue // no result: retried later
		case acc.AccountID == "busy":
			res.Result, res.Reason, res.RetryAfter = "retry", "directory locked", 30
		case !o.users[acc.AccountID]:
			res.Result, res.State, res.Reason = "failed", "unknown", "not found"
		case req.Action == "status":
			res.State = "pending"
			if o.complete[acc.AccountID] {
				res.State = "complete"
			}
		default:
			if o.actions[acc.Key] == 0 { // once per key
				o.reset[acc.AccountID] = true
			}
			o.actions[acc.Key]++
			res.Result = "done"
		}
		results = append(results, res)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
}

// sleeper records the waits instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func openWebhook(t *testing.T, url string, opts idp.Options) idp.Connector {
	t.Helper()
	t.Setenv("ACME_IDP_WEBHOOK_SECRET", "whsec_org_shared_9d8c")
	cfg, err := idp.ParseConfig([]byte(fmt.Sprintf(`{"kind": "webhook", "webhook": {"url": %q, "secret": "env:ACME_IDP_WEBHOOK_SECRET", "timeout": "5s"}}`, url)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := idp.Open(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func accts(ids ...string) []idp.Account {
	out := make([]idp.Account, len(ids))
	for i, id := range ids {
		out[i] = idp.Account{ID: id, Key: "inc-7/" + id + "/reset"}
	}
	return out
}

func results(outs []idp.Outcome) string {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "%s=%s", o.AccountID, o.Result)
		if o.Result != idp.Done && o.Reason != "" {
			fmt.Fprintf(&b, "(%s)", o.Reason)
		}
		b.WriteString(" ")
	}
	return strings.TrimSpace(b.String())
}

func TestWebhookForceResetRetriesWithTheSameIdempotencyKey(t *testing.T) {
	org := newOrgReceiver(t, "whsec_org_shared_9d8c", "jdupont", "mmartin", "no-key-echo", "busy")
	org.fail = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
	var sl sleeper
	c := openWebhook(t, org.srv.URL+"/breach/accounts", idp.Options{Sleep: sl.sleep})

	accounts := accts("jdupont", "ghost", "mmartin", "", "no-key-echo", "forgotten", "busy")
	outs, err := c.ForceReset(context.Background(), accounts)
	if err != nil {
		t.Fatalf("ForceReset: %v", err)
	}
	want := "jdupont=done ghost=failed(not found) mmartin=done =failed(empty account id) no-key-echo=done " +
		"forgotten=retry(no result in the receiver's response) busy=retry(directory locked)"
	if got := results(outs); got != want {
		t.Fatalf("outcomes\n got %s\nwant %s", got, want)
	}
	if outs[6].RetryAfter != 30*time.Second {
		t.Errorf("busy: retry after %v, want the receiver's 30s", outs[6].RetryAfter)
	}
	for i, o := range outs {
		if o.Key != accounts[i].Key {
			t.Errorf("outcome %d has key %q, want %q", i, o.Key, accounts[i].Key)
		}
	}

	// 503, then 429 with Retry-After: 1, then 200: three attempts, every
	// one signed and verified, all with the same Idempotency-Key.
	if len(org.attempts) != 3 {
		t.Fatalf("%d attempts, want 3: %+v", len(org.attempts), org.attempts)
	}
	for i, a := range org.attempts {
		if a.verifyErr != nil {
			t.Errorf("attempt %d: signature refused: %v", i, a.verifyErr)
		}
		if a.idempotencyKey == "" || a.idempotencyKey != org.attempts[0].idempotencyKey {
			t.Errorf("attempt %d: Idempotency-Key %q, first %q", i, a.idempotencyKey, org.attempts[0].idempotencyKey)
		}
		if a.action != "force_reset" {
			t.Errorf("attempt %d: action %q", i, a.action)
		}
	}
	if want := []int{503, 429, 200}; org.attempts[0].status != want[0] || org.attempts[1].status != want[1] || org.attempts[2].status != want[2] {
		t.Errorf("statuses %+v", org.attempts)
	}
	waits := sl.recorded()
	if len(waits) != 2 || waits[0] <= 0 || waits[0] > 500*time.Millisecond || waits[1] != time.Second {
		t.Errorf("waits %v: want a backoff of at most 500ms, then the Retry-After of 1s", waits)
	}
	if !org.reset["jdupont"] || !org.reset["mmartin"] || org.reset["ghost"] {
		t.Errorf("reset at the receiver: %v", org.reset)
	}

	// The engine retries the whole batch (an activity retry): same key,
	// and the receiver acts once per account key.
	if _, err := c.ForceReset(context.Background(), accounts); err != nil {
		t.Fatal(err)
	}
	if last := org.attempts[len(org.attempts)-1]; last.idempotencyKey != org.attempts[0].idempotencyKey {
		t.Errorf("a retried batch got another Idempotency-Key")
	}
	if org.actions["inc-7/jdupont/reset"] != 2 || len(org.reset) != 2 {
		t.Errorf("actions %v, resets %v", org.actions, org.reset)
	}
	if idp.BatchKey("force_reset", accounts) == idp.BatchKey("revoke_sessions", accounts) {
		t.Error("the batch key ignores the action")
	}
}

func TestWebhookStatusAndRevoke(t *testing.T) {
	org := newOrgReceiver(t, "whsec_org_shared_9d8c", "jdupont", "mmartin")
	org.complete["mmartin"] = true
	c := openWebhook(t, org.srv.URL+"/breach/accounts", idp.Options{})

	sts, err := c.Status(context.Background(), accts("jdupont", "mmartin", "ghost"))
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != idp.Pending || sts[1].State != idp.Complete || sts[2].State != idp.Unknown || sts[2].Reason != "not found" {
		t.Fatalf("statuses %+v", sts)
	}
	outs, err := c.RevokeSessions(context.Background(), accts("jdupont"))
	if err != nil || results(outs) != "jdupont=done" || org.attempts[len(org.attempts)-1].action != "revoke_sessions" {
		t.Fatalf("revoke: %s, %v", results(outs), err)
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	// A batch of accounts without IDs sends nothing.
	n := len(org.attempts)
	if outs, err := c.ForceReset(context.Background(), accts("")); err != nil || outs[0].Result != idp.Failed || len(org.attempts) != n {
		t.Fatalf("empty batch: %+v, %v", outs, err)
	}
}

func TestWebhookMisconfiguration(t *testing.T) {
	org := newOrgReceiver(t, "whsec_org_shared_9d8c", "jdupont")
	htmlPage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>Welcome to the portal</html>")
	}))
	defer htmlPage.Close()
	redirect := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/", http.StatusMovedPermanently))
	defer redirect.Close()

	cases := []struct {
		name  string
		url   string
		opts  func(o *idp.Options)
		field string
	}{
		{"wrong path", org.srv.URL + "/wrong", nil, "webhook.url"},
		{"a web page", htmlPage.URL, nil, "webhook.url"},
		{"a redirect", redirect.URL, nil, "webhook.url"},
		{"wrong secret", org.srv.URL + "/breach/accounts", func(o *idp.Options) {
			o.Secrets = func(context.Context, idp.SecretRef) ([]byte, error) { return []byte("whsec_stale"), nil }
		}, "webhook.secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts idp.Options
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c := openWebhook(t, tc.url, opts)
			outs, err := c.ForceReset(context.Background(), accts("jdupont", "mmartin"))
			if !isConfigError(err, tc.field) {
				t.Fatalf("err = %v, want a ConfigError about %s", err, tc.field)
			}
			if _, temporary := idp.RetryAfter(err); temporary {
				t.Error("a configuration error is also temporary")
			}
			if results(outs) != "jdupont=retry(not tried: the batch stopped) mmartin=retry(not tried: the batch stopped)" {
				t.Errorf("outcomes %s", results(outs))
			}
			if err := c.Check(context.Background()); !isConfigError(err, tc.field) {
				t.Errorf("Check = %v", err)
			}
			if strings.Contains(err.Error(), "jdupont") || strings.Contains(err.Error(), "whsec") {
				t.Errorf("error quotes an account or the secret: %v", err)
			}
		})
	}
}

func TestWebhookTemporaryTrouble(t *testing.T) {
	t.Run("5xx until the attempts run out", func(t *testing.T) {
		org := newOrgReceiver(t, "whsec_org_shared_9d8c", "jdupont")
		org.fail = []int{502, 503, 504, 500, 200}
		var sl sleeper
		c := openWebhook(t, org.srv.URL+"/breach/accounts", idp.Options{Sleep: sl.sleep, MaxAttempts: 4, Backoff: 100 * time.Millisecond})
		outs, err := c.ForceReset(context.Background(), accts("jdupont"))
		var te *idp.TemporaryError
		if !errors.As(err, &te) || idp.IsConfigError(err) {
			t.Fatalf("err = %v, want a TemporaryError", err)
		}
		if outs[0].Result != idp.Retry || len(org.attempts) != 4 {
			t.Fatalf("outcome %+v after %d attempts", outs[0], len(org.attempts))
		}
		waits := sl.recorded()
		if len(waits) != 3 || waits[2] < waits[0] || waits[2] > 400*time.Millisecond {
			t.Errorf("waits %v: want three growing backoffs", waits)
		}
	})
	t.Run("Retry-After longer than the connector waits", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer srv.Close()
		var sl sleeper
		c := openWebhook(t, srv.URL, idp.Options{Sleep: sl.sleep})
		_, err := c.ForceReset(context.Background(), accts("jdupont"))
		if ra, temporary := idp.RetryAfter(err); !temporary || ra != time.Hour {
			t.Fatalf("err = %v: want temporary with RetryAfter 1h", err)
		}
		if len(sl.recorded()) != 0 {
			t.Errorf("waited %v in process", sl.recorded())
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		var sl sleeper
		c := openWebhook(t, url, idp.Options{Sleep: sl.sleep, MaxAttempts: 2})
		_, err := c.ForceReset(context.Background(), accts("jdupont"))
		if _, temporary := idp.RetryAfter(err); !temporary || strings.Contains(err.Error(), "jdupont") {
			t.Fatalf("err = %v, want temporary", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		var sl sleeper
		c := openWebhook(t, srv.URL, idp.Options{Sleep: sl.sleep, MaxAttempts: 2, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
		_, err := c.ForceReset(context.Background(), accts("jdupont"))
		if _, temporary := idp.RetryAfter(err); !temporary || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("err = %v, want a temporary timeout", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		org := newOrgReceiver(t, "whsec_org_shared_9d8c", "jdupont")
		org.fail = []int{503, 503}
		ctx, cancel := context.WithCancel(context.Background())
		c := openWebhook(t, org.srv.URL+"/breach/accounts", idp.Options{Sleep: func(context.Context, time.Duration) error { cancel(); return context.Canceled }})
		if _, err := c.ForceReset(ctx, accts("jdupont")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}
