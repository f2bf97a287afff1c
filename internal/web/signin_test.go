package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/web"
)

func TestSignInSessionAndSignOut(t *testing.T) {
	v := newEnv(t)
	c := v.anonymous()

	// Pages need a session: the register redirects to the sign-in page.
	res := c.get("/")
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/signin") {
		t.Fatalf("anonymous GET /: %d %s", res.status, res.location)
	}
	page := c.get("/signin")
	if page.status != 200 || !page.has(`label[for="f-username"]`) || !page.has(`label[for="f-password"]`) {
		t.Fatalf("sign-in page: %d\n%s", page.status, page.body)
	}
	noInline(t, "/signin", page)

	// A wrong password: 401, audited without the password typed.
	before := v.auditCount()
	res = c.signIn("dpo", "not the password at all")
	if res.status != http.StatusUnauthorized || !res.has(`[role="alert"]`) {
		t.Fatalf("wrong password: %d", res.status)
	}
	row, ok := v.lastAudit("signin.failed")
	if !ok || v.auditCount() != before+1 {
		t.Fatal("failed sign-in not audited")
	}
	if strings.Contains(string(row.After), "not the password") || !strings.Contains(string(row.After), "wrong_password") ||
		!strings.Contains(string(row.After), v.users["dpo"].ID) {
		t.Errorf("audit row of a failed sign-in: %s", row.After)
	}
	// An unknown username: the same answer.
	res = c.signIn("nobody", password)
	if res.status != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", res.status)
	}
	if row, _ := v.lastAudit("signin.failed"); !strings.Contains(string(row.After), "unknown_account") {
		t.Errorf("unknown account audit: %s", row.After)
	}

	// A sign-in form that does not come from our page (no pre-session token): refused.
	res = c.postRaw("/signin", url.Values{"username": {"dpo"}, "password": {password}, "presession": {"forged"}}, nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("sign-in without the pre-session token: %d", res.status)
	}

	// The right password: a session cookie, HttpOnly and SameSite=Lax; the
	// database holds its hash, never the token.
	res = c.signIn("dpo", password)
	if res.status != http.StatusSeeOther || res.location != "/" {
		t.Fatalf("sign in: %d %s", res.status, res.location)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: res.header}).Cookies() {
		if ck.Name == "breach_session" && ck.Value != "" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Fatalf("session cookie: %+v", session)
	}
	var stored [][]byte
	rows, err := v.store.Pool.Query(context.Background(), `SELECT token_hash FROM web_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h []byte
		_ = rows.Scan(&h)
		stored = append(stored, h)
	}
	rows.Close()
	sum := sha256.Sum256([]byte(session.Value))
	if len(stored) != 1 || !bytes.Equal(stored[0], sum[:]) || bytes.Contains(stored[0], []byte(session.Value)) {
		t.Fatalf("stored sessions: %x", stored)
	}
	if _, ok := v.lastAudit("session.started"); !ok {
		t.Error("sign-in not audited")
	}
	home := c.get("/")
	if home.status != 200 || c.csrf == "" {
		t.Fatalf("home after sign-in: %d", home.status)
	}
	noInline(t, "/", home)

	// Sign-out needs the CSRF token; then the session is gone.
	res = c.postRaw("/signout", url.Values{"csrf": {"wrong"}}, nil)
	if res.status != http.StatusForbidden {
		t.Fatalf("sign-out with a wrong CSRF token: %d", res.status)
	}
	res = c.post("/signout", nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.status)
	}
	if _, ok := v.lastAudit("session.ended"); !ok {
		t.Error("sign-out not audited")
	}
	// The old cookie, replayed, opens nothing.
	replay := v.anonymous()
	u, _ := url.Parse(v.srv.URL)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "breach_session", Value: session.Value, Path: "/"}})
	if res := replay.get("/"); res.status != http.StatusSeeOther {
		t.Fatalf("replayed cookie after sign-out: %d", res.status)
	}
}

func TestSignInThrottled(t *testing.T) {
	v := newEnv(t)
	c := v.anonymous()
	for i := 0; i < app.DefaultSessionPolicy.MaxPerUser; i++ {
		if res := c.signIn("approver", "wrong password "+itoa(i)); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, res.status)
		}
	}
	// Even the right password is refused now, without being checked.
	res := c.signIn("approver", password)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" {
		t.Fatalf("throttled sign-in: %d", res.status)
	}
	if _, ok := v.lastAudit("signin.throttled"); !ok {
		t.Error("throttled sign-in not audited")
	}
	// Another account is not affected.
	if res := c.signIn("auditor", password); res.status != http.StatusSeeOther {
		t.Fatalf("other account: %d", res.status)
	}
}

func TestCSRFAndCrossOrigin(t *testing.T) {
	v := newEnv(t)
	c := v.as("dpo")
	before := v.auditCount()
	// No token, a wrong token: refused before anything happens.
	for _, form := range []url.Values{{"csrf": {""}}, {"csrf": {"x" + c.csrf}}} {
		f := incidentFacts("csrf")
		f.Set("csrf", form.Get("csrf"))
		if f.Get("csrf") == "" {
			f.Del("csrf")
		}
		if res := c.postRaw("/incidents", f, nil); res.status != http.StatusForbidden {
			t.Fatalf("POST without a valid CSRF token: %d", res.status)
		}
	}
	// The right token from another site (the browser says so): refused.
	f := incidentFacts("csrf")
	f.Set("csrf", c.csrf)
	res := c.postRaw("/incidents", f, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if res.status != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", res.status)
	}
	res = c.postRaw("/incidents", f, map[string]string{"Origin": "https://evil.example"})
	if res.status != http.StatusForbidden {
		t.Fatalf("POST from another origin: %d", res.status)
	}
	if n := v.auditCount(); n != before {
		t.Errorf("refused requests wrote %d audit rows", n-before)
	}
	// htmx sends the token as a header.
	res = c.postRaw("/incidents/preview", incidentFacts("x"), map[string]string{"X-CSRF-Token": c.csrf, "HX-Request": "true"})
	if res.status != 200 || !res.has(`[data-enisa="score"]`) {
		t.Fatalf("preview with the header token: %d\n%s", res.status, res.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	v := newEnv(t)
	c := v.anonymous()
	res := c.get("/signin")
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "default-src 'none'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
		"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if res.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent by a development server on plain http")
	}
	// Static files come from the binary, versioned and cached.
	for _, sel := range []string{`script[src^="/static/htmx.min.js?v="]`, `script[src^="/static/app.js?v="]`, `link[href^="/static/app.css?v="]`} {
		node := res.doc.Find(sel)
		if node.Length() != 1 {
			t.Fatalf("%s missing", sel)
		}
		src, ok := node.Attr("src")
		if !ok {
			src, _ = node.Attr("href")
		}
		s := c.get(src)
		if s.status != 200 || !strings.Contains(s.header.Get("Cache-Control"), "immutable") || len(s.body) < 100 {
			t.Errorf("%s: %d %q", src, s.status, s.header.Get("Cache-Control"))
		}
	}
	if s := c.get("/static/htmx.LICENSE"); s.status != 200 || !strings.Contains(s.body, "Zero-Clause BSD") {
		t.Errorf("htmx licence: %d", s.status)
	}

	// With Secure cookies (the default outside `breach dev`): __Host- cookies and HSTS.
	secure := httptest.NewServer(web.New(web.Options{App: v.engine.App(), SecureCookies: true}).Handler())
	defer secure.Close()
	r, err := http.Get(secure.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS with secure cookies")
	}
	found := false
	for _, ck := range r.Cookies() {
		if ck.Name == "__Host-breach_presession" && ck.Secure && ck.HttpOnly && ck.Path == "/" {
			found = true
		}
	}
	if !found {
		t.Errorf("secure pre-session cookie: %v", r.Header["Set-Cookie"])
	}
}

func TestLanguage(t *testing.T) {
	v := newEnv(t)
	c := v.anonymous()
	req, _ := http.NewRequest("GET", v.srv.URL+"/signin", nil)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9,fr;q=0.5")
	res := c.do(req)
	if lang, _ := res.doc.Find("html").Attr("lang"); lang != "en" || !strings.Contains(res.text("h1"), "Sign in") {
		t.Errorf("English browser: lang %q, h1 %q", lang, res.text("h1"))
	}
	res = c.get("/signin")
	if lang, _ := res.doc.Find("html").Attr("lang"); lang != "fr" || !strings.Contains(res.text("h1"), "Connexion") {
		t.Errorf("default: lang %q, h1 %q", lang, res.text("h1"))
	}
	// The account's preference wins over the browser's.
	d := v.as("dpo")
	if res := d.post("/preferences/language", url.Values{"language": {"en"}}); res.status != http.StatusSeeOther {
		t.Fatalf("set language: %d", res.status)
	}
	req, _ = http.NewRequest("GET", v.srv.URL+"/", nil)
	req.Header.Set("Accept-Language", "fr")
	res = d.do(req)
	if lang, _ := res.doc.Find("html").Attr("lang"); lang != "en" || !strings.Contains(res.text("h1"), "Register") {
		t.Errorf("preference en: lang %q, h1 %q", lang, res.text("h1"))
	}
	if res := d.post("/preferences/language", url.Values{"language": {"de"}}); res.status != http.StatusBadRequest {
		t.Errorf("unknown language: %d", res.status)
	}
}
