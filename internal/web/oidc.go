package web

// OpenID Connect sign-in, off unless Options.OIDC is set: the authorization
// code flow with PKCE. GET /signin/oidc sends the browser to the provider with
// a fresh state, nonce and code verifier, kept in a short-lived HttpOnly
// cookie signed by the server; GET /signin/oidc/callback checks the state
// against that cookie, exchanges the code (with the verifier), verifies the ID
// token (signature, issuer, audience, expiry) and its nonce, maps the role
// claim to a role, and starts the same Postgres session as a local sign-in.
// Refusals are audited ("signin.oidc_refused") and shown on a page that says
// why; no token, code or e-mail address is ever logged or audited.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// OIDCOptions configure sign-in through an OpenID Connect provider
// (BREACH_OIDC_*).
type OIDCOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string // "" for a public client
	RedirectURL  string // <public URL>/signin/oidc/callback
	RoleClaim    string // a string or array claim; "" means "roles"
	// RoleMap maps claim values to roles; when several match, the first
	// listed wins.
	RoleMap []OIDCRole
	Scopes  []string // "openid" is always requested
	// Name is the provider's name on the sign-in button; "" means the
	// issuer's host.
	Name string
	// HTTPClient talks to the provider; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
}

// OIDCRole maps one value of the role claim to a role.
type OIDCRole struct {
	Value string
	Role  breach.Role
}

// oidcFlowTTL bounds the time between leaving for the provider and coming back.
const oidcFlowTTL = 10 * time.Minute

// oidcFlow is the state of one sign-in in flight, in the signed cookie.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

// oidcClient runs the flow; the provider's discovery document is read at the
// first sign-in (and again after a failure), so that the engine starts while
// the provider is down.
type oidcClient struct {
	o    OIDCOptions
	key  []byte // signs the flow cookie
	http *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(o OIDCOptions) *oidcClient {
	if o.RoleClaim == "" {
		o.RoleClaim = "roles"
	}
	if !containsString(o.Scopes, oidc.ScopeOpenID) {
		o.Scopes = append([]string{oidc.ScopeOpenID}, o.Scopes...)
	}
	if o.Name == "" {
		if u, err := url.Parse(o.Issuer); err == nil && u.Host != "" {
			o.Name = u.Hostname()
		} else {
			o.Name = o.Issuer
		}
	}
	c := &oidcClient{o: o, http: o.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Second}
	}
	// The cookie's key: from the client secret, so that every replica of
	// `breach serve` accepts the cookies of the others; a public client has
	// none, and each process draws its own.
	if o.ClientSecret != "" {
		m := hmac.New(sha256.New, []byte(o.ClientSecret))
		m.Write([]byte("breach web oidc flow v1"))
		c.key = m.Sum(nil)
	} else {
		c.key = []byte(randomToken())
	}
	return c
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *oidcClient) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, c.http) }

// config returns the provider and the OAuth 2 configuration.
func (c *oidcClient) config(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil {
		p, err := oidc.NewProvider(c.ctx(ctx), c.o.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc discovery: %w", err)
		}
		c.provider = p
	}
	return c.provider, &oauth2.Config{
		ClientID: c.o.ClientID, ClientSecret: c.o.ClientSecret, RedirectURL: c.o.RedirectURL,
		Endpoint: c.provider.Endpoint(), Scopes: c.o.Scopes,
	}, nil
}

// seal signs a flow for its cookie.
func (c *oidcClient) seal(f oidcFlow) string {
	b, _ := json.Marshal(f)
	body := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open checks a flow cookie's signature and expiry.
func (c *oidcClient) open(v string, now time.Time) (oidcFlow, bool) {
	var f oidcFlow
	body, sig, ok := strings.Cut(v, ".")
	if !ok {
		return f, false
	}
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(body))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return f, false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(b, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return oidcFlow{}, false
	}
	if now.Unix() > f.Expires {
		return oidcFlow{}, false
	}
	return f, true
}

// role maps the claim's values: the first pair of the map that matches.
func (c *oidcClient) role(claims map[string]any) breach.Role {
	var values []string
	switch v := claims[c.o.RoleClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	}
	for _, m := range c.o.RoleMap {
		if containsString(values, m.Value) && m.Role.Valid() {
			return m.Role
		}
	}
	return ""
}

func (s *Server) oidcCookie() string {
	if s.secure {
		return "__Host-breach_oidc"
	}
	return "breach_oidc"
}

// oidcStart sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		s.notFound(w, r)
		return
	}
	l := s.lang(r)
	_, cfg, err := s.oidc.config(r.Context())
	if err != nil {
		s.logger.Error("web: oidc: provider unavailable", "issuer", s.oidc.o.Issuer, "err", err)
		s.errorPage(w, r, http.StatusBadGateway, l.T("signin.oidc_unavailable"))
		return
	}
	f := oidcFlow{
		State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: s.now().Add(oidcFlowTTL).Unix(),
	}
	s.setCookie(w, s.oidcCookie(), s.oidc.seal(f), int(oidcFlowTTL.Seconds()))
	http.Redirect(w, r, cfg.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

// oidcCallback ends the flow: state, code, ID token, nonce, role, session.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		s.notFound(w, r)
		return
	}
	l := s.lang(r)
	q := r.URL.Query()
	refuse := func(reason string, status int, msg string) {
		if err := s.app.RecordOIDCRefusal(r.Context(), s.oidc.o.Issuer, clientIP(r), reason); err != nil {
			s.logger.Error("web: oidc: audit refusal", "err", err)
		}
		s.logger.Warn("web: oidc sign-in refused", "reason", reason)
		s.errorPage(w, r, status, msg)
	}
	// The flow is used once, whatever happens next.
	s.setCookie(w, s.oidcCookie(), "", -1)
	var f oidcFlow
	ok := false
	if ck, err := r.Cookie(s.oidcCookie()); err == nil {
		f, ok = s.oidc.open(ck.Value, s.now())
	}
	if !ok || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		refuse("bad_state", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	if e := q.Get("error"); e != "" {
		refuse("provider_error", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	code := q.Get("code")
	if code == "" {
		refuse("no_code", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	provider, cfg, err := s.oidc.config(r.Context())
	if err != nil {
		s.logger.Error("web: oidc: provider unavailable", "issuer", s.oidc.o.Issuer, "err", err)
		s.errorPage(w, r, http.StatusBadGateway, l.T("signin.oidc_unavailable"))
		return
	}
	ctx := s.oidc.ctx(r.Context())
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		// The error may quote the provider's answer, never our secret or the code.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			s.logger.Warn("web: oidc: code exchange refused", "status", re.Response.StatusCode, "error", re.ErrorCode)
		} else {
			s.logger.Warn("web: oidc: code exchange failed", "err", err)
		}
		refuse("exchange_failed", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse("no_id_token", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	// Signature, issuer, audience (our client ID) and expiry.
	idt, err := provider.VerifierContext(ctx, &oidc.Config{ClientID: s.oidc.o.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		s.logger.Warn("web: oidc: ID token refused", "err", err)
		refuse("invalid_token", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		refuse("bad_nonce", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		refuse("invalid_token", http.StatusForbidden, l.T("signin.oidc_failed"))
		return
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	username := str("preferred_username")
	if username == "" {
		username = str("email")
	}
	if username == "" {
		username = idt.Subject
	}
	sess, err := s.app.OIDCSignIn(r.Context(), s.policy, app.OIDCSignInRequest{
		Identity: store.OIDCIdentity{
			Issuer: idt.Issuer, Subject: idt.Subject, Username: username, DisplayName: str("name"),
			Role: s.oidc.role(claims),
		},
		IP: clientIP(r), UserAgent: r.UserAgent(),
	})
	switch {
	case errors.Is(err, app.ErrOIDCNoRole):
		s.errorPage(w, r, http.StatusForbidden, l.T("signin.oidc_no_role"))
		return
	case errors.Is(err, app.ErrOIDCDisabled):
		s.errorPage(w, r, http.StatusForbidden, l.T("signin.oidc_disabled"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.startSession(w, r, sess, f.Next)
}
