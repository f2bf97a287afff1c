package idp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/idp"
)

type kcOpts struct {
	lookup, extra string
	opts          idp.Options
}

func openKeycloak(t *testing.T, k *keycloak, o kcOpts) idp.Connector {
	t.Helper()
	t.Setenv("ACME_KC_SECRET", k.clientSecret)
	if o.lookup == "" {
		o.lookup = "username"
	}
	doc := fmt.Sprintf(`{"kind": "keycloak", "keycloak": {"base_url": %q, "realm": "job-seekers", "client_id": "breach-engine",
		"client_secret": "env:ACME_KC_SECRET", "lookup": %q %s}}`, k.srv.URL, o.lookup, o.extra)
	cfg, err := idp.ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := idp.Open(context.Background(), cfg, o.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestKeycloakForceReset(t *testing.T) {
	k := newKeycloak(t)
	jd := k.addUser("jdupont", "jeanne.dupont@example.fr", true)
	mm := k.addUser("mmartin", "m.martin@example.fr", true, "VERIFY_EMAIL")
	noMail := k.addUser("lbernard", "", true)
	off := k.addUser("pdurand", "p.durand@example.fr", false)
	k.addUser("jdupont2", "jeanne.dupont@example.fr", true) // a second account, same e-mail: search by username is exact
	c := openKeycloak(t, k, kcOpts{extra: `, "email_lifespan": "72h", "email_client_id": "portal", "redirect_uri": "https://portal.example.org/"`})

	outs, err := c.ForceReset(context.Background(), accts("jdupont", "ghost", "mmartin", "lbernard", "pdurand", ""))
	if err != nil {
		t.Fatalf("ForceReset: %v", err)
	}
	want := "jdupont=done ghost=failed(not found) mmartin=done lbernard=done pdurand=done =failed(empty account id)"
	if got := results(outs); got != want {
		t.Fatalf("outcomes\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(outs[3].Reason, "no e-mail address") || !strings.Contains(outs[4].Reason, "disabled") {
		t.Errorf("notes: %q, %q", outs[3].Reason, outs[4].Reason)
	}
	// E-mails to the enabled users with an address, with the lifespan in
	// seconds; UPDATE_PASSWORD required of all four, other actions kept.
	if len(k.emails) != 2 || !slices.Equal(k.emails[jd.ID], []string{"259200"}) || len(k.emails[mm.ID]) != 1 {
		t.Errorf("e-mails sent: %v", k.emails)
	}
	for _, u := range []*kcUser{jd, noMail, off} {
		if !slices.Equal(u.RequiredActions, []string{"UPDATE_PASSWORD"}) {
			t.Errorf("%s: required actions %v", u.Username, u.RequiredActions)
		}
	}
	if !slices.Equal(mm.RequiredActions, []string{"VERIFY_EMAIL", "UPDATE_PASSWORD"}) {
		t.Errorf("mmartin: required actions %v", mm.RequiredActions)
	}
	// The update sent the whole representation back, unknown fields
	// included, so that nothing else changed.
	for _, rep := range k.puts {
		if rep["firstName"] != "Jeanne" || rep["attributes"] == nil || rep["createdTimestamp"] == nil {
			t.Errorf("partial representation sent: %v", rep)
		}
	}
	if k.issued != 1 {
		t.Errorf("%d tokens fetched, want 1 (cached)", k.issued)
	}

	// A retried batch sends no second e-mail.
	outs, err = c.ForceReset(context.Background(), accts("jdupont", "mmartin"))
	if err != nil || results(outs) != "jdupont=done mmartin=done" || outs[0].Reason != "reset already required" {
		t.Fatalf("retry: %s %q, %v", results(outs), outs[0].Reason, err)
	}
	if len(k.emails[jd.ID]) != 1 || len(k.emails[mm.ID]) != 1 {
		t.Errorf("e-mails after the retry: %v", k.emails)
	}
}

func TestKeycloakStatusAndLogout(t *testing.T) {
	k := newKeycloak(t)
	jd := k.addUser("jdupont", "jeanne.dupont@example.fr", true)
	mm := k.addUser("mmartin", "m.martin@example.fr", true)
	c := openKeycloak(t, k, kcOpts{})
	ctx := context.Background()

	if _, err := c.ForceReset(ctx, accts("jdupont", "mmartin")); err != nil {
		t.Fatal(err)
	}
	k.completeReset("mmartin")
	sts, err := c.Status(ctx, accts("jdupont", "mmartin", "ghost"))
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != idp.Pending || sts[1].State != idp.Complete || sts[2].State != idp.Unknown || sts[2].Reason != "not found" {
		t.Fatalf("statuses %+v", sts)
	}

	outs, err := c.RevokeSessions(ctx, accts("jdupont", "ghost", "mmartin"))
	if err != nil || results(outs) != "jdupont=done ghost=failed(not found) mmartin=done" {
		t.Fatalf("logout: %s, %v", results(outs), err)
	}
	if jd.sessions != 0 || mm.sessions != 0 || k.logouts[jd.ID] != 1 {
		t.Errorf("sessions %d %d, logouts %v", jd.sessions, mm.sessions, k.logouts)
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestKeycloakLookupByEmailAndID(t *testing.T) {
	k := newKeycloak(t)
	jd := k.addUser("jdupont", "Jeanne.Dupont@example.fr", true)
	k.addUser("shared1", "accueil@example.fr", true)
	k.addUser("shared2", "accueil@example.fr", true)

	byEmail := openKeycloak(t, k, kcOpts{lookup: "email", extra: `, "send_email": false`})
	outs, err := byEmail.ForceReset(context.Background(), accts("JEANNE.DUPONT@example.fr", "accueil@example.fr", "jeanne@"))
	if err != nil {
		t.Fatal(err)
	}
	if got := results(outs); got != "JEANNE.DUPONT@example.fr=done accueil@example.fr=failed(several accounts match) jeanne@=failed(not found)" {
		t.Fatalf("by e-mail: %s", got)
	}
	if len(k.emails) != 0 || !slices.Contains(jd.RequiredActions, "UPDATE_PASSWORD") {
		t.Errorf("send_email false: e-mails %v, actions %v", k.emails, jd.RequiredActions)
	}

	byID := openKeycloak(t, k, kcOpts{lookup: "id"})
	outs, err = byID.RevokeSessions(context.Background(), accts(jd.ID, "00000000-0000-4000-8000-000000000000"))
	if err != nil || results(outs) != jd.ID+"=done 00000000-0000-4000-8000-000000000000=failed(not found)" {
		t.Fatalf("by id: %s, %v", results(outs), err)
	}
	sts, err := byID.Status(context.Background(), accts(jd.ID))
	if err != nil || sts[0].State != idp.Pending {
		t.Fatalf("status by id: %+v, %v", sts, err)
	}
}

// 429 with Retry-After on every fifth admin request: the connector waits
// the second the server asks for and every account ends done.
func TestKeycloakHonoursRetryAfter(t *testing.T) {
	k := newKeycloak(t)
	var users []string
	for i := range 40 {
		u := fmt.Sprintf("user%02d", i)
		k.addUser(u, u+"@example.fr", true)
		users = append(users, u)
	}
	k.every429 = 5
	var sl sleeper
	c := openKeycloak(t, k, kcOpts{extra: `, "concurrency": 4`, opts: idp.Options{Sleep: sl.sleep}})

	outs, err := c.ForceReset(context.Background(), accts(users...))
	if err != nil {
		t.Fatalf("ForceReset: %v", err)
	}
	for _, o := range outs {
		if o.Result != idp.Done {
			t.Fatalf("%s: %s (%s)", o.AccountID, o.Result, o.Reason)
		}
	}
	if k.limited == 0 {
		t.Fatal("the server never limited the rate")
	}
	waits := sl.recorded()
	if len(waits) != k.limited {
		t.Errorf("%d waits for %d answers 429", len(waits), k.limited)
	}
	for _, w := range waits {
		if w != time.Second {
			t.Errorf("waited %v, want the Retry-After of 1s", w)
		}
	}
	for id, sent := range k.emails {
		if len(sent) != 1 {
			t.Errorf("user %s got %d e-mails", id, len(sent))
		}
	}
	if len(k.emails) != 40 {
		t.Errorf("%d users e-mailed, want 40", len(k.emails))
	}
}

// The same with the real clock: the connector really waits.
func TestKeycloakRetryAfterRealWait(t *testing.T) {
	k := newKeycloak(t)
	k.addUser("jdupont", "jeanne.dupont@example.fr", true)
	c := openKeycloak(t, k, kcOpts{})
	if err := c.Check(context.Background()); err != nil { // fetch the token
		t.Fatal(err)
	}
	k.mu.Lock()
	k.limitNext = 1
	k.mu.Unlock()
	start := time.Now()
	outs, err := c.RevokeSessions(context.Background(), accts("jdupont"))
	if err != nil || outs[0].Result != idp.Done {
		t.Fatalf("%+v, %v", outs, err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("done after %v: the Retry-After of 1s was not honoured", waited)
	}
}

// A token the server no longer accepts is replaced once, transparently; a
// token that has outlived expires_in is not even tried.
func TestKeycloakTokenRefresh(t *testing.T) {
	k := newKeycloak(t)
	k.addUser("jdupont", "jeanne.dupont@example.fr", true)
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	c := openKeycloak(t, k, kcOpts{opts: idp.Options{Now: now}})
	ctx := context.Background()

	if _, err := c.RevokeSessions(ctx, accts("jdupont")); err != nil {
		t.Fatal(err)
	}
	k.expireTokens() // 401 on the next call
	outs, err := c.RevokeSessions(ctx, accts("jdupont"))
	if err != nil || outs[0].Result != idp.Done {
		t.Fatalf("after the token expired: %+v, %v", outs, err)
	}
	if k.issued != 2 {
		t.Fatalf("%d tokens issued, want 2", k.issued)
	}
	// expires_in is 300s: renewed before, with a margin.
	mu.Lock()
	clock = clock.Add(280 * time.Second)
	mu.Unlock()
	if _, err := c.RevokeSessions(ctx, accts("jdupont")); err != nil {
		t.Fatal(err)
	}
	if k.issued != 3 {
		t.Fatalf("%d tokens issued, want 3 (renewed before expiry)", k.issued)
	}
}

func TestKeycloakMisconfiguration(t *testing.T) {
	cases := []struct {
		name  string
		setup func(k *keycloak, o *kcOpts)
		field string
	}{
		{"wrong client secret", func(k *keycloak, o *kcOpts) {
			o.opts.Secrets = func(context.Context, idp.SecretRef) ([]byte, error) { return []byte("stale"), nil }
		}, "keycloak.client_secret"},
		{"unknown realm", func(k *keycloak, o *kcOpts) { k.realm = "other" }, "keycloak.token_realm"},
		{"missing manage-users role", func(k *keycloak, o *kcOpts) { k.manageUsers = false }, "keycloak.client_id"},
		{"a token the API never accepts", func(k *keycloak, o *kcOpts) {
			o.opts.HTTPClient = &http.Client{Transport: forgetTokens{k}}
		}, "keycloak.client_id"},
		{"unknown e-mail client", func(k *keycloak, o *kcOpts) {
			o.extra = `, "email_client_id": "typo", "redirect_uri": "https://portal.example.org/"`
		}, "keycloak.email_client_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := newKeycloak(t)
			k.addUser("jdupont", "jeanne.dupont@example.fr", true)
			var o kcOpts
			tc.setup(k, &o)
			c := openKeycloak(t, k, o)
			outs, err := c.ForceReset(context.Background(), accts("jdupont"))
			if !isConfigError(err, tc.field) {
				t.Fatalf("err = %v, want a ConfigError about %s", err, tc.field)
			}
			if outs[0].Result != idp.Retry {
				t.Errorf("outcome %+v", outs[0])
			}
			if strings.Contains(err.Error(), "jdupont") || strings.Contains(err.Error(), k.clientSecret) {
				t.Errorf("error quotes an account or the secret: %v", err)
			}
			if tc.name != "unknown e-mail client" {
				if err := c.Check(context.Background()); !isConfigError(err, "") {
					t.Errorf("Check = %v", err)
				}
			}
		})
	}
}

// forgetTokens is a transport that invalidates every token as soon as it is
// issued: the second 401 in a row is a configuration error, not a loop.
type forgetTokens struct{ k *keycloak }

func (f forgetTokens) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/token") {
		f.k.expireTokens()
	}
	return res, err
}

// Keycloak down mid-batch: the accounts done stay done, the rest is Retry,
// and the batch reports a temporary error.
func TestKeycloakTemporaryTroubleStopsTheBatch(t *testing.T) {
	k := newKeycloak(t)
	for _, u := range []string{"a1", "a2", "a3", "a4"} {
		k.addUser(u, u+"@example.fr", true)
	}
	var sl sleeper
	c := openKeycloak(t, k, kcOpts{extra: `, "concurrency": 1`, opts: idp.Options{Sleep: sl.sleep, MaxAttempts: 3}})
	ctx := context.Background()
	if _, err := c.RevokeSessions(ctx, accts("a1")); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.fail5xx = 1000
	k.mu.Unlock()
	outs, err := c.RevokeSessions(ctx, accts("a2", "a3", "a4"))
	if _, temporary := idp.RetryAfter(err); !temporary {
		t.Fatalf("err = %v, want temporary", err)
	}
	for _, o := range outs {
		if o.Result != idp.Retry {
			t.Errorf("%s: %s", o.AccountID, o.Result)
		}
	}
	if len(sl.recorded()) != 2 {
		t.Errorf("waits %v: want 2 (3 attempts at the first account, then stop)", sl.recorded())
	}

	// A partly processed batch: the first account succeeds, then trouble.
	k.mu.Lock()
	k.fail5xx = 0
	k.every429 = 0
	k.mu.Unlock()
	flaky := &flakyAfter{k: k, after: 2} // the search and logout of a2 pass
	c2 := openKeycloak(t, k, kcOpts{extra: `, "concurrency": 1`, opts: idp.Options{Sleep: sl.sleep, MaxAttempts: 2, HTTPClient: &http.Client{Transport: flaky}}})
	outs, err = c2.RevokeSessions(ctx, accts("a2", "a3"))
	if _, temporary := idp.RetryAfter(err); !temporary {
		t.Fatalf("err = %v, want temporary", err)
	}
	if results(outs) != "a2=done a3=retry(not tried: the batch stopped)" {
		t.Fatalf("outcomes %s", results(outs))
	}
}

// flakyAfter lets the token request and `after` admin requests through,
// then answers 502 itself, as a failing proxy in front of Keycloak would.
type flakyAfter struct {
	k     *keycloak
	mu    sync.Mutex
	after int
}

func (f *flakyAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/admin/") {
		f.mu.Lock()
		f.after--
		pass := f.after >= 0
		f.mu.Unlock()
		if !pass {
			body, _ := json.Marshal(map[string]string{"error": "Bad Gateway"})
			return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{}, Body: nopCloser{strings.NewReader(string(body))}, Request: r}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
