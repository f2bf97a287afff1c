package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/webhook"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const incidentID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

// receiver is the engine's side: the middleware in front of a handler that
// records what it got, with rejections audited as the API will do.
type receiver struct {
	srv      *httptest.Server
	st       *store.Store
	clock    atomic.Pointer[time.Time]
	mu       sync.Mutex
	bodies   []string
	sigs     []webhook.Signature
	rejected []error
}

func newReceiver(t *testing.T, secrets func(r *http.Request) ([][]byte, error)) *receiver {
	t.Helper()
	rc := &receiver{st: pgtest.NewStore(t)}
	start := now
	rc.clock.Store(&start)
	mw := webhook.Middleware(secrets, rc.st, webhook.Options{
		Now:     func() time.Time { return *rc.clock.Load() },
		MaxBody: 4096,
		OnReject: func(r *http.Request, err error) {
			rc.mu.Lock()
			rc.rejected = append(rc.rejected, err)
			rc.mu.Unlock()
			actor := breach.Actor{UserID: "webhook"}
			if aerr := rc.st.RecordRejection(context.WithoutCancel(r.Context()), r.PathValue("id"), actor, "accounts.completed", err.Error()); aerr != nil {
				t.Errorf("audit the rejection: %v", aerr)
			}
		},
	})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/incidents/{id}/accounts/completed", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler cannot read the body: %v", err)
		}
		sig, ok := webhook.FromContext(r.Context())
		if !ok {
			t.Error("no signature in the handler's context")
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.sigs = append(rc.sigs, sig)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})))
	rc.srv = httptest.NewServer(mux)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setNow(t time.Time) { rc.clock.Store(&t) }

func (rc *receiver) post(t *testing.T, header string, b []byte) (int, map[string]map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rc.srv.URL+"/api/v1/incidents/"+incidentID+"/accounts/completed", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set(webhook.Header, header)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e map[string]map[string]string
	if res.StatusCode >= 400 {
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
			t.Fatalf("status %d: body is not a JSON error: %v", res.StatusCode, err)
		}
	}
	return res.StatusCode, e
}

func (rc *receiver) lastRejection() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.rejected) == 0 {
		return nil
	}
	return rc.rejected[len(rc.rejected)-1]
}

var oneSecret = webhook.Single(func(*http.Request) ([]byte, error) { return secret, nil })

func TestMiddlewareAcceptsOnceAndRefusesTheRest(t *testing.T) {
	rc := newReceiver(t, oneSecret)
	valid := webhook.Sign(secret, body, now)

	if status, e := rc.post(t, valid, body); status != http.StatusAccepted {
		t.Fatalf("valid: status %d %v", status, e)
	}
	if len(rc.bodies) != 1 || rc.bodies[0] != string(body) {
		t.Fatalf("handler got %q, want the body unchanged", rc.bodies)
	}
	if !rc.sigs[0].Timestamp.Equal(now) {
		t.Errorf("signature in context: %+v", rc.sigs[0])
	}

	sig := strings.SplitN(valid, ",v1=", 2)[1]
	refusals := []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"replayed", valid, body, now.Add(time.Second), webhook.ErrReplayed},
		{"replayed with an extra v1", fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), strings.Repeat("ab", 32), sig), body, now, webhook.ErrReplayed},
		{"missing header", "", body, now, webhook.ErrMissing},
		{"malformed header", "sha256=" + sig, body, now, webhook.ErrMalformed},
		{"wrong secret", webhook.Sign([]byte("whsec_guess"), body, now), body, now, webhook.ErrBadSignature},
		{"tampered body", webhook.Sign(secret, body, now.Add(time.Second)), bytes.Replace(body, []byte("jdupont"), []byte("jdurand"), 1), now, webhook.ErrBadSignature},
		{"too old", webhook.Sign(secret, body, now.Add(-10*time.Minute)), body, now, webhook.ErrExpired},
		{"too far in the future", webhook.Sign(secret, body, now.Add(10*time.Minute)), body, now, webhook.ErrFuture},
		{"replay after the window", valid, body, now.Add(time.Hour), webhook.ErrExpired},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			rc.setNow(c.at)
			status, e := rc.post(t, c.header, c.body)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", status)
			}
			if e["error"]["code"] != "unauthenticated" || e["error"]["message"] == "" {
				t.Errorf("error body %v", e)
			}
			if err := rc.lastRejection(); !errors.Is(err, c.want) {
				t.Errorf("OnReject got %v, want %v", err, c.want)
			}
		})
	}
	if len(rc.bodies) != 1 {
		t.Fatalf("the handler ran %d times, want once", len(rc.bodies))
	}

	// Each refusal is in the audit log, linked to the incident, and the
	// chain still verifies.
	rows, err := rc.st.AuditLog(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(refusals) {
		t.Fatalf("%d audit rows, want %d", len(rows), len(refusals))
	}
	for _, r := range rows {
		if r.Action != "update.rejected" || !strings.Contains(string(r.After), "webhook signature") {
			t.Errorf("audit row %s %s", r.Action, r.After)
		}
		if strings.Contains(string(r.After), "jdupont") {
			t.Errorf("audit row quotes the body: %s", r.After)
		}
	}
	if v, err := rc.st.VerifyAudit(context.Background()); err != nil || !v.OK {
		t.Fatalf("audit chain: %+v, %v", v, err)
	}
}

// A sender that retries with a fresh signature is not a replay.
func TestMiddlewareAcceptsARetryWithANewTimestamp(t *testing.T) {
	rc := newReceiver(t, oneSecret)
	for i := range 2 {
		at := now.Add(time.Duration(i) * time.Second)
		rc.setNow(at)
		if status, e := rc.post(t, webhook.Sign(secret, body, at), body); status != http.StatusAccepted {
			t.Fatalf("attempt %d: %d %v", i, status, e)
		}
	}
}

// Identical requests racing each other: exactly one gets through.
func TestMiddlewareConcurrentReplays(t *testing.T) {
	rc := newReceiver(t, oneSecret)
	h := webhook.Sign(secret, body, now)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch status, _ := rc.post(t, h, body); status {
			case http.StatusAccepted:
				ok.Add(1)
			case http.StatusUnauthorized:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 7 {
		t.Fatalf("%d accepted, %d refused; want 1 and 7", ok.Load(), refused.Load())
	}
}

func TestMiddlewareRotation(t *testing.T) {
	rc := newReceiver(t, func(*http.Request) ([][]byte, error) { return [][]byte{newSecret, secret}, nil })
	if status, e := rc.post(t, webhook.Sign(secret, body, now), body); status != http.StatusAccepted {
		t.Fatalf("old secret during rotation: %d %v", status, e)
	}
	other := []byte(`{"accounts":["pdurand"]}`)
	if status, e := rc.post(t, webhook.Sign(newSecret, other, now), other); status != http.StatusAccepted {
		t.Fatalf("new secret: %d %v", status, e)
	}
	if rc.sigs[0].Secret != 1 || rc.sigs[1].Secret != 0 {
		t.Errorf("secret indexes %d, %d; want 1, 0", rc.sigs[0].Secret, rc.sigs[1].Secret)
	}
	third := []byte(`{"accounts":["x"]}`)
	if status, _ := rc.post(t, webhook.Sign([]byte("retired"), third, now), third); status != http.StatusUnauthorized {
		t.Fatalf("retired secret: %d", status)
	}
}

// An incident without a secret gets the same answer as a bad signature; the
// audit hook learns the real reason.
func TestMiddlewareUnknownSender(t *testing.T) {
	rc := newReceiver(t, func(*http.Request) ([][]byte, error) {
		return nil, breach.Errorf(breach.ErrNotFound, "incident not found")
	})
	status, e := rc.post(t, webhook.Sign(secret, body, now), body)
	if status != http.StatusUnauthorized || e["error"]["message"] != webhook.ErrBadSignature.Error() {
		t.Fatalf("status %d %v", status, e)
	}
	if err := rc.lastRejection(); !errors.Is(err, webhook.ErrNoSecret) || breach.ErrorCode(err) != breach.ErrNotFound {
		t.Fatalf("OnReject got %v", err)
	}
}

func TestMiddlewareBodyTooLarge(t *testing.T) {
	rc := newReceiver(t, oneSecret)
	big := []byte(`{"accounts":["` + strings.Repeat("a", 5000) + `"]}`)
	status, _ := rc.post(t, webhook.Sign(secret, big, now), big)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
	if err := rc.lastRejection(); !errors.Is(err, webhook.ErrTooLarge) {
		t.Fatalf("OnReject got %v", err)
	}
}

func TestSeenWebhookAndPurge(t *testing.T) {
	st := pgtest.NewStore(t)
	ctx := context.Background()
	d1 := webhook.ReplayDigest(now, body)
	d2 := webhook.ReplayDigest(now.Add(time.Second), body)
	for i, c := range []struct {
		digest   []byte
		replayed bool
	}{{d1, false}, {d1, true}, {d2, false}, {d2, true}} {
		got, err := st.SeenWebhook(ctx, c.digest, now.Add(6*time.Minute))
		if err != nil || got != c.replayed {
			t.Fatalf("call %d: replayed=%v, %v; want %v", i, got, err, c.replayed)
		}
	}
	if _, err := st.SeenWebhook(ctx, []byte("short"), now); breach.ErrorCode(err) != breach.ErrInvalid {
		t.Fatalf("short digest: %v", err)
	}
	if n, err := st.PurgeSeenWebhooks(ctx, now); err != nil || n != 0 {
		t.Fatalf("purge before expiry: %d, %v", n, err)
	}
	if n, err := st.PurgeSeenWebhooks(ctx, now.Add(7*time.Minute)); err != nil || n != 2 {
		t.Fatalf("purge after expiry: %d, %v", n, err)
	}
}
