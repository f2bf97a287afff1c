package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/web"
)

// provider is an OpenID Connect provider in the test process: discovery,
// JWKS with a fresh RSA key, /authorize that signs the user in at once and
// redirects back with a code, and /token that checks the code, the client's
// secret and the PKCE verifier, and returns an ID token signed with the key.
type provider struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer

	mu    sync.Mutex
	codes map[string]grant
	// The next sign-in: who, with which claim values, and what to spoil.
	sub      string
	name     string
	roles    any // the role claim: a string or a list
	badNonce bool
	audience string // "" means the client ID
	expired  bool
	tokens   []string // every ID token issued, to check none is audited
}

type grant struct{ clientID, redirect, nonce, challenge string }

const (
	oidcClientID     = "breach-test"
	oidcClientSecret = "test-client-secret"
)

func newProvider(t *testing.T) *provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{t: t, key: key, signer: signer, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"jwks_uri": p.srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != oidcClientID || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := randomString()
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		g, found := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code")) // a code is used once
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case id != oidcClientID || secret != oidcClientSecret:
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "invalid_client"})
			return
		case !found || g.redirect != r.PostForm.Get("redirect_uri") || r.PostForm.Get("grant_type") != "authorization_code" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		claims := map[string]any{
			"iss": p.srv.URL, "sub": p.sub, "aud": oidcClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"nonce": g.nonce, "preferred_username": p.sub + ".oidc", "name": p.name, "email": p.sub + "@example.org",
		}
		if p.roles != nil {
			claims["roles"] = p.roles
		}
		if p.badNonce {
			claims["nonce"] = "not-the-nonce"
		}
		if p.audience != "" {
			claims["aud"] = p.audience
		}
		if p.expired {
			claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}
		payload, _ := json.Marshal(claims)
		obj, err := p.signer.Sign(payload)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		raw, _ := obj.CompactSerialize()
		p.tokens = append(p.tokens, raw)
		writeJSON(w, map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "id_token": raw})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// next sets who signs in next, and what goes wrong.
func (p *provider) next(sub string, roles any, spoil func(p *provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sub, p.name, p.roles = sub, "Person "+sub, roles
	p.badNonce, p.audience, p.expired = false, "", false
	if spoil != nil {
		spoil(p)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidcServer serves the engine's pages, as the env does, with OpenID Connect
// sign-in through the provider.
func (v *env) oidcServer(p *provider) *httptest.Server {
	v.t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	v.t.Cleanup(srv.Close)
	e := *v.engine
	e.OIDC = &web.OIDCOptions{
		Issuer: p.srv.URL, ClientID: oidcClientID, ClientSecret: oidcClientSecret,
		RedirectURL: srv.URL + "/signin/oidc/callback", Name: "TestIdP",
		RoleMap: []web.OIDCRole{
			{Value: "breach-dpo", Role: breach.RoleDPO}, {Value: "breach-approver", Role: breach.RoleApprover},
			{Value: "breach-auditor", Role: breach.RoleAuditor}, {Value: "breach-admin", Role: breach.RoleAdmin},
		},
	}
	h = e.Handler()
	return srv
}

// oidcSignIn follows the flow as a browser would: the button of the sign-in
// page, the provider, the callback. tamper may change the callback's URL.
func oidcSignIn(c *client, tamper func(u *url.URL)) response {
	c.t.Helper()
	page := c.get("/signin")
	href, ok := page.doc.Find(`a#signin-oidc`).Attr("href")
	if !ok || !strings.Contains(page.text("a#signin-oidc"), "TestIdP") {
		c.t.Fatalf("no OIDC button on the sign-in page:\n%s", page.body)
	}
	start := c.get(href)
	if start.status != http.StatusSeeOther {
		c.t.Fatalf("start: %d\n%s", start.status, start.body)
	}
	auth := c.getURL(start.location)
	if auth.status != http.StatusFound {
		c.t.Fatalf("authorize: %d\n%s", auth.status, auth.body)
	}
	back, _ := url.Parse(auth.location)
	if tamper != nil {
		tamper(back)
	}
	return c.getURL(back.String())
}

func (c *client) getURL(u string) response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return c.do(req)
}

func TestOIDCSignIn(t *testing.T) {
	v := newEnv(t)
	// Not configured: no button, no route.
	if page := v.anonymous().get("/signin"); page.has(`a#signin-oidc`) {
		t.Fatal("OIDC button without OIDC configured")
	}
	if res := v.anonymous().get("/signin/oidc"); res.status != http.StatusNotFound {
		t.Fatalf("GET /signin/oidc without OIDC: %d", res.status)
	}

	p := newProvider(t)
	srv := v.oidcServer(p)
	browser := func() *client {
		c := v.anonymous()
		c.base = srv.URL
		return c
	}
	refusals := func() int {
		var n int
		if err := v.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'signin.oidc_refused'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	signedOut := func(c *client) bool {
		res := c.get("/")
		return res.status == http.StatusSeeOther && strings.HasPrefix(res.location, "/signin")
	}

	t.Run("role mapped", func(t *testing.T) {
		p.next("alice", []string{"staff", "breach-dpo", "breach-auditor"}, nil) // the first pair of the map wins
		c := browser()
		res := oidcSignIn(c, nil)
		if res.status != http.StatusSeeOther || res.location != "/" {
			t.Fatalf("callback: %d %s\n%s", res.status, res.location, res.body)
		}
		page := c.get("/")
		if page.status != http.StatusOK || !page.has(`a[href="/incidents/new"]`) {
			t.Fatalf("register as the OIDC DPO: %d\n%s", page.status, page.body)
		}
		var id, username, role, issuer string
		err := v.store.Pool.QueryRow(context.Background(),
			`SELECT id::text, username, role, oidc_issuer FROM users WHERE oidc_subject = 'alice'`).Scan(&id, &username, &role, &issuer)
		if err != nil || role != "dpo" || issuer != p.srv.URL || username != "alice.oidc" {
			t.Fatalf("account: %v %s %s %s", err, username, role, issuer)
		}
		row, ok := v.lastAudit("session.started")
		if !ok || row.ActorID != id || !strings.Contains(string(row.After), `"method": "oidc"`) && !strings.Contains(string(row.After), `"method":"oidc"`) {
			t.Errorf("session audit: %+v %s", row, row.After)
		}
		if row, _ := v.lastAudit("user.created"); strings.Contains(string(row.After), "example.org") || row.ActorID != id {
			t.Errorf("user.created audit: %+v %s", row, row.After)
		}

		// Again, now an approver at the provider: the same account, the new role.
		p.next("alice", "breach-approver", nil)
		c = browser()
		if res := oidcSignIn(c, nil); res.status != http.StatusSeeOther {
			t.Fatalf("second sign-in: %d\n%s", res.status, res.body)
		}
		var n int
		_ = v.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE oidc_subject = 'alice'`).Scan(&n)
		u, err := v.store.UserByID(context.Background(), id)
		if err != nil || n != 1 || u.Role != breach.RoleApprover {
			t.Fatalf("second sign-in: %d accounts, role %s, %v", n, u.Role, err)
		}
		if page := c.get("/"); page.status != http.StatusOK || page.has(`a[href="/incidents/new"]`) {
			t.Fatalf("register as the OIDC approver: %d", page.status)
		}
		// A password sign-in with the OIDC account's username: refused.
		if res := browser().signIn("alice.oidc", ""); res.status != http.StatusUnauthorized {
			t.Errorf("password sign-in of an OIDC account: %d", res.status)
		}
	})

	t.Run("no mapped role", func(t *testing.T) {
		before := refusals()
		p.next("bob", []string{"staff", "breach-everything"}, nil)
		c := browser()
		res := oidcSignIn(c, nil)
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "aucun rôle") && !strings.Contains(res.body, "no role") {
			t.Fatalf("no role: %d\n%s", res.status, res.body)
		}
		if refusals() != before+1 {
			t.Fatal("refusal not audited")
		}
		row, _ := v.lastAudit("signin.oidc_refused")
		if !strings.Contains(string(row.After), "no_role") || !strings.Contains(string(row.After), "bob") {
			t.Errorf("refusal audit: %s", row.After)
		}
		if !signedOut(c) {
			t.Error("a session after a refusal")
		}
		var n int
		_ = v.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE oidc_subject = 'bob'`).Scan(&n)
		if n != 0 {
			t.Error("an account was created without a role")
		}
		// Known account that lost its role: refused, audited by its ID.
		p.next("alice", nil, nil)
		c = browser()
		if res := oidcSignIn(c, nil); res.status != http.StatusForbidden {
			t.Fatalf("alice without roles: %d", res.status)
		}
		row, _ = v.lastAudit("signin.oidc_refused")
		u, _ := v.store.UserByOIDC(context.Background(), p.srv.URL, "alice")
		if row.ActorID != u.ID || u.ID == "" || !strings.Contains(string(row.After), u.ID) {
			t.Errorf("refusal of a known account by %q, want %q", row.ActorID, u.ID)
		}
	})

	spoiled := map[string]struct {
		spoil  func(p *provider)
		tamper func(u *url.URL)
		reason string
	}{
		"bad state": {tamper: func(u *url.URL) {
			q := u.Query()
			q.Set("state", randomString())
			u.RawQuery = q.Encode()
		}, reason: "bad_state"},
		"wrong nonce":    {spoil: func(p *provider) { p.badNonce = true }, reason: "bad_nonce"},
		"wrong audience": {spoil: func(p *provider) { p.audience = "another-client" }, reason: "invalid_token"},
		"expired token":  {spoil: func(p *provider) { p.expired = true }, reason: "invalid_token"},
	}
	for name, tc := range spoiled {
		t.Run(name, func(t *testing.T) {
			before := refusals()
			p.next("carol", "breach-dpo", tc.spoil)
			c := browser()
			res := oidcSignIn(c, tc.tamper)
			if res.status != http.StatusForbidden {
				t.Fatalf("%s: %d %s\n%s", name, res.status, res.location, res.body)
			}
			if refusals() != before+1 {
				t.Fatal("refusal not audited")
			}
			if row, _ := v.lastAudit("signin.oidc_refused"); !strings.Contains(string(row.After), tc.reason) {
				t.Errorf("refusal audit: %s, want %s", row.After, tc.reason)
			}
			if !signedOut(c) {
				t.Error("a session after a refusal")
			}
		})
	}

	// A replayed callback (the flow cookie is spent): refused.
	t.Run("replay", func(t *testing.T) {
		p.next("dave", "breach-auditor", nil)
		c := browser()
		page := c.get("/signin")
		href, _ := page.doc.Find(`a#signin-oidc`).Attr("href")
		auth := c.getURL(c.get(href).location)
		if res := c.getURL(auth.location); res.status != http.StatusSeeOther {
			t.Fatalf("first callback: %d", res.status)
		}
		if res := c.getURL(auth.location); res.status != http.StatusForbidden {
			t.Fatalf("replayed callback: %d", res.status)
		}
	})

	// No token or code reached the audit log.
	var all string
	if err := v.store.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(coalesce(after::text, ''), ' '), '') FROM audit_log`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	for _, tok := range p.tokens {
		if strings.Contains(all, tok[:40]) {
			t.Fatal("an ID token in the audit log")
		}
	}
	if strings.Contains(all, "@example.org") {
		t.Error("an e-mail address in the audit log")
	}
}
