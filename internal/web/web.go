// Package web serves the pages of the engine for the DPO, the approvers, the
// auditors and the admins: server-rendered templ components (templates/web)
// with htmx for the few live parts, every action going through the use cases
// of internal/app, which check roles and audit refusals.
//
// Security, in one place (this file and session.go):
//   - sign-in with local accounts (argon2id), sessions in Postgres known by the
//     hash of their token; the cookie is HttpOnly, SameSite=Lax, and Secure
//     unless the engine runs in development (Options.SecureCookies);
//   - cross-site request forgery is refused twice on every state-changing
//     request: by net/http's CrossOriginProtection (Sec-Fetch-Site and Origin
//     headers, which every current browser sends) and by a synchronizer token
//     derived from the session token (HMAC), which each form carries and htmx
//     sends as a header; the sign-in form, before any session, carries a token
//     that must match a pre-session cookie;
//   - a Content-Security-Policy that allows scripts and styles from the server
//     only (no inline script or style, no eval), frames from the server only,
//     and no framing of the pages; the stored dossier HTML is served with its
//     own policy (no script at all) into a sandboxed iframe;
//   - sign-in is throttled per username and per address, every refusal audited;
//   - optional OpenID Connect sign-in (oidc.go): authorization code flow with
//     PKCE, state and nonce in a signed HttpOnly cookie, the ID token verified,
//     the role mapped from a claim, then the same session as a local sign-in.
package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"go.temporal.io/sdk/converter"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/web/i18n"
	webui "github.com/breach-engine/breach/templates/web"
)

// Options configure the pages.
type Options struct {
	App    *app.Service
	Logger *slog.Logger
	// SecureCookies marks the cookies Secure and sends HSTS: true everywhere
	// but in `breach dev` on plain http (BREACH_COOKIE_SECURE).
	SecureCookies bool
	// Policy bounds sessions and sign-in attempts; zero means app.DefaultSessionPolicy.
	Policy app.SessionPolicy
	// Now is the clock for countdowns and late filings; nil means time.Now.
	Now func() time.Time
	// Payloads decodes the Temporal payloads of the history page (the
	// engine's encrypting data converter); nil shows them as encrypted.
	Payloads converter.DataConverter
	// OIDC turns on sign-in through an OpenID Connect provider; nil: local
	// accounts only.
	OIDC *OIDCOptions
}

// Server is the web front end.
type Server struct {
	app    *app.Service
	logger *slog.Logger
	secure bool
	policy app.SessionPolicy
	now    func() time.Time
	assets webui.Assets
	dc     converter.DataConverter
	// register keeps the register computed until the audit log moves.
	register *app.RegisterCache
	oidc     *oidcClient // nil: no OpenID Connect sign-in
}

// New returns the web server.
func New(o Options) *Server {
	s := &Server{app: o.App, logger: o.Logger, secure: o.SecureCookies, policy: o.Policy, now: o.Now, dc: o.Payloads,
		register: &app.RegisterCache{}}
	if s.policy == (app.SessionPolicy{}) {
		s.policy = app.DefaultSessionPolicy
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.OIDC != nil && o.OIDC.Issuer != "" {
		s.oidc = newOIDCClient(*o.OIDC)
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.assets = webui.Assets{CSS: assetURL("app.css"), JS: assetURL("app.js"), HTMX: assetURL("htmx.min.js"), Icon: assetURL("favicon.svg")}
	return s
}

// Handler returns the pages' routes behind the security middleware. Mount it
// at "/" next to the JSON API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{file}", serveStatic)

	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.HandleFunc("GET /signin/oidc", s.oidcStart)
	mux.HandleFunc("GET /signin/oidc/callback", s.oidcCallback)
	mux.Handle("POST /signout", s.authed(s.signOut))
	mux.Handle("POST /preferences/language", s.authed(s.setLanguage))

	mux.Handle("GET /{$}", s.authed(s.registerPage))
	mux.Handle("GET /register.csv", s.authed(s.registerCSV))

	mux.Handle("GET /incidents/new", s.authed(s.newIncidentPage))
	mux.Handle("POST /incidents/preview", s.authed(s.preview))
	mux.Handle("POST /incidents", s.authed(s.openIncident))
	mux.Handle("GET /incidents/{id}", s.authed(s.incidentPage))
	mux.Handle("GET /incidents/{id}/live", s.authed(s.incidentLive))
	mux.Handle("GET /incidents/{id}/assess", s.authed(s.assessPage))
	mux.Handle("POST /incidents/{id}/assess", s.authed(s.assess))
	mux.Handle("POST /incidents/{id}/close", s.authed(s.closeIncident))

	mux.Handle("GET /incidents/{id}/regimes/{regime}/drafts/new", s.authed(s.draftFormPage))
	mux.Handle("POST /incidents/{id}/regimes/{regime}/drafts", s.authed(s.saveDraft))
	mux.Handle("GET /incidents/{id}/drafts/{draft}", s.authed(s.draftPage))
	mux.Handle("GET /incidents/{id}/drafts/{draft}/dossier.html", s.authed(s.dossier))
	mux.Handle("POST /incidents/{id}/drafts/{draft}/decision", s.authed(s.decide))
	mux.Handle("GET /incidents/{id}/regimes/{regime}/filing", s.authed(s.filingPage))
	mux.Handle("POST /incidents/{id}/regimes/{regime}/filing", s.authed(s.recordFiling))

	mux.Handle("GET /incidents/{id}/audit", s.authed(s.auditPage))
	mux.Handle("GET /incidents/{id}/audit.csv", s.authed(s.auditCSV))
	mux.Handle("GET /incidents/{id}/audit.json", s.authed(s.auditJSON))
	mux.Handle("GET /incidents/{id}/record", s.authed(s.recordPage))
	mux.Handle("GET /incidents/{id}/history", s.authed(s.historyPage))

	mux.Handle("GET /incidents/{id}/people", s.authed(s.peoplePage))
	mux.Handle("GET /incidents/{id}/people/status", s.authed(s.peopleStatus))
	mux.Handle("POST /incidents/{id}/people/import", s.authed(s.importPeople))
	mux.Handle("GET /incidents/{id}/letters/{lang}/preview.html", s.authed(s.letterPreview))
	mux.Handle("GET /incidents/{id}/monitoring/reports/{file}", s.authed(s.monitoringReport))

	mux.Handle("GET /admin", s.authed(s.adminPage))
	mux.Handle("POST /admin/accounts", s.authed(s.createAccount))
	mux.Handle("POST /admin/accounts/{id}/disable", s.authed(s.setDisabled(true)))
	mux.Handle("POST /admin/accounts/{id}/enable", s.authed(s.setDisabled(false)))

	mux.HandleFunc("/", s.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	return s.headers(s.recoverer(cop.Handler(s.session(mux))))
}

// pageCSP is the policy of every page: the server's own scripts, styles and
// frames, nothing inline, nothing from elsewhere, no framing by others.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// dossierCSP is the policy of a stored dossier: a document to read, with its
// own inline style, that runs nothing and loads nothing.
const dossierCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"

// headers sets the security headers of every response; handlers that serve
// something else than a page (the dossier) replace the policy.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// Pages hold personal data: never kept by a cache.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer answers 500 when a handler panics, and logs it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("web: panic", "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// crossOrigin answers a state-changing request sent from another site.
func (s *Server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	s.logger.Warn("web: cross-origin request refused", "method", r.Method, "path", r.URL.Path)
	s.errorPage(w, r, http.StatusForbidden, s.lang(r).T("error.cross_origin"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, s.lang(r).T("error.not_found"))
}

// page is the common part of a page for this request.
func (s *Server) page(r *http.Request, title, nav string) webui.Page {
	info := infoFrom(r.Context())
	p := webui.Page{L: info.lang, Title: title, CSRF: info.csrf, Nav: nav, Assets: s.assets, Now: s.now()}
	if info.user != nil {
		u := *info.user
		p.User = &u
	}
	if n := r.URL.Query().Get("done"); n != "" && i18n.Has("done."+n) {
		p.Notice = "done." + n
	}
	return p
}

// lang is the language of the request.
func (s *Server) lang(r *http.Request) i18n.Lang { return infoFrom(r.Context()).lang }

// render writes a component, fully rendered first so that a failure midway
// gives a clean error instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.logger.Error("web: render", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage renders an error page with a status.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	l := s.lang(r)
	p := s.page(r, l.T("error.title", status), "")
	s.render(w, r, status, webui.ErrorPage(p, webui.ErrorView{Status: status, Message: message}))
}

// fail answers a use case's error: domain errors with their status and
// message, anything else as a logged internal error with a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	l := s.lang(r)
	var de *breach.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.logger.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, l.T("error.internal"))
		return
	}
	status := statusOf(de.Code)
	msg := l.Field(de.Message)
	switch de.Code {
	case breach.ErrForbidden:
		msg = l.T("error.forbidden") + " " + msg
	case breach.ErrNotFound:
		msg = l.T("error.not_found")
	case breach.ErrUnauthenticated:
		msg = l.T("error.unauthenticated")
	}
	s.errorPage(w, r, status, msg)
}

func statusOf(c breach.Code) int {
	switch c {
	case breach.ErrInvalid:
		return http.StatusBadRequest
	case breach.ErrNotFound:
		return http.StatusNotFound
	case breach.ErrForbidden:
		return http.StatusForbidden
	case breach.ErrConflict:
		return http.StatusConflict
	case breach.ErrUnauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// redirect answers a successful form with a See Other to the next page,
// with a notice key the page shows.
func redirect(w http.ResponseWriter, r *http.Request, to, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "done=" + done
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
