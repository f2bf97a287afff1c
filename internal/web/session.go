package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/web/i18n"
	webui "github.com/breach-engine/breach/templates/web"
)

// info is what the session middleware learns about a request.
type info struct {
	user  *webui.User
	actor breach.Actor
	lang  i18n.Lang
	token string // the session token, from the cookie
	csrf  string // the synchronizer token of the session
	// multipart is the rest of an upload's body, after its CSRF token.
	multipart *multipart.Reader
}

type infoKey struct{}

func infoFrom(ctx context.Context) *info {
	if i, ok := ctx.Value(infoKey{}).(*info); ok {
		return i
	}
	return &info{lang: i18n.FR}
}

// Cookie names: with Secure cookies the __Host- prefix pins them to this
// host and path / (browsers refuse a __Host- cookie that is not Secure).
func (s *Server) sessionCookie() string {
	if s.secure {
		return "__Host-breach_session"
	}
	return "breach_session"
}

func (s *Server) preCookie() string {
	if s.secure {
		return "__Host-breach_presession"
	}
	return "breach_presession"
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// csrfToken derives the synchronizer token of a session from its token: only
// who holds the session cookie can compute it, the server stores nothing more,
// and it changes with every session.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("breach web csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session resolves the session cookie to its account, and the language.
func (s *Server) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := &info{}
		pref := ""
		if c, err := r.Cookie(s.sessionCookie()); err == nil && c.Value != "" && !strings.HasPrefix(r.URL.Path, "/static/") {
			su, err := s.app.SessionUser(r.Context(), s.policy, c.Value)
			switch {
			case err == nil:
				name := su.User.DisplayName
				if name == "" {
					name = su.User.Username
				}
				in.user = &webui.User{ID: su.User.ID, Username: su.User.Username, Name: name, Role: su.User.Role, Language: su.Language}
				in.actor = su.User.Actor()
				in.token, in.csrf = c.Value, csrfToken(c.Value)
				pref = su.Language
			case breach.ErrorCode(err) == breach.ErrUnauthenticated:
				s.setCookie(w, s.sessionCookie(), "", -1) // expired or ended: forget it
			default:
				s.logger.Error("web: session", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		in.lang = i18n.Negotiate(pref, r.Header.Get("Accept-Language"))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, in)))
	})
}

// handler is a page handler for a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, in *info)

// authed requires a session: pages redirect to the sign-in page, other
// requests get 401. State-changing requests must carry the session's CSRF
// token, in the form field "csrf" or the X-CSRF-Token header (htmx).
func (s *Server) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := infoFrom(r.Context())
		if in.user == nil {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/signin")
			}
			s.errorPage(w, r, http.StatusUnauthorized, in.lang.T("error.unauthenticated"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			var sent string
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
				// Uploads are streamed to their handler: the token comes in the
				// header (htmx) or as the form's first field, before the file.
				r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
				mr, err := r.MultipartReader()
				if err != nil {
					s.errorPage(w, r, http.StatusBadRequest, in.lang.T("error.bad_form"))
					return
				}
				sent = r.Header.Get("X-CSRF-Token")
				if sent == "" {
					if part, err := mr.NextPart(); err == nil && part.FormName() == "csrf" {
						b, _ := io.ReadAll(io.LimitReader(part, 200))
						sent = string(b)
					}
				}
				in.multipart = mr
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxForm)
				if err := r.ParseForm(); err != nil {
					s.errorPage(w, r, http.StatusBadRequest, in.lang.T("error.bad_form"))
					return
				}
				sent = r.PostForm.Get("csrf")
				if sent == "" {
					sent = r.Header.Get("X-CSRF-Token")
				}
			}
			if subtle.ConstantTimeCompare([]byte(sent), []byte(in.csrf)) != 1 {
				s.logger.Warn("web: CSRF token missing or wrong", "path", r.URL.Path, "user_id", in.actor.UserID)
				s.errorPage(w, r, http.StatusForbidden, in.lang.T("error.csrf"))
				return
			}
		}
		h(w, r, in)
	})
}

// maxForm bounds form bodies: the longest texts of a draft are 50,000 characters each.
const maxForm = 2 << 20

// maxUpload bounds an upload of affected people: millions of lines.
const maxUpload = 4 << 30

// randomToken is 32 random bytes in base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if infoFrom(r.Context()).user != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showSignIn(w, r, http.StatusOK, webui.SignInView{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request, status int, v webui.SignInView) {
	v.Token = randomToken()
	if s.oidc != nil {
		v.OIDCName = s.oidc.o.Name
		v.OIDCURL = "/signin/oidc?next=" + url.QueryEscape(v.Next)
	}
	s.setCookie(w, s.preCookie(), v.Token, 3600)
	if v.Form.Values == nil {
		v.Form.Values = url.Values{}
	}
	p := s.page(r, s.lang(r).T("signin.title"), "")
	s.render(w, r, status, webui.SignIn(p, v))
}

// signIn checks the credentials; the form must send back the pre-session
// token of its cookie (no sign-in from another site's form).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, s.lang(r).T("error.bad_form"))
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	c, err := r.Cookie(s.preCookie())
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("presession"))) != 1 {
		s.showSignIn(w, r, http.StatusForbidden, webui.SignInView{Next: next, Failed: true})
		return
	}
	username := r.PostForm.Get("username")
	sess, err := s.app.SignIn(r.Context(), s.policy, app.SignInRequest{
		Username: username, Password: r.PostForm.Get("password"), IP: clientIP(r), UserAgent: r.UserAgent(),
	})
	form := webui.Form{Values: url.Values{"username": {username}}}
	var throttled *app.ThrottledError
	switch {
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", strconv.Itoa(int(throttled.RetryAfter.Seconds())))
		s.showSignIn(w, r, http.StatusTooManyRequests, webui.SignInView{Next: next, Throttled: true, Form: form})
		return
	case breach.ErrorCode(err) == breach.ErrUnauthenticated:
		s.showSignIn(w, r, http.StatusUnauthorized, webui.SignInView{Next: next, Failed: true, Form: form})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.startSession(w, r, sess, next)
}

// startSession hands a signed-in user (local or OpenID Connect) their new
// session cookie and sends them on. A new session token at each sign-in: a
// token planted before cannot be used, so any previous session is ended.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess app.Session, next string) {
	if old, err := r.Cookie(s.sessionCookie()); err == nil && old.Value != "" {
		_ = s.app.SignOut(r.Context(), sess.User.Actor(), old.Value)
	}
	s.setCookie(w, s.preCookie(), "", -1)
	s.setCookie(w, s.sessionCookie(), sess.Token, int(s.policy.Lifetime.Seconds()))
	if next == "/" && sess.User.Role == breach.RoleAdmin {
		next = "/admin"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, in *info) {
	if err := s.app.SignOut(r.Context(), in.actor, in.token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, s.sessionCookie(), "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request, in *info) {
	lang := r.PostForm.Get("language")
	if lang != "" && !i18n.Lang(lang).Valid() {
		s.errorPage(w, r, http.StatusBadRequest, in.lang.T("error.bad_form"))
		return
	}
	if err := s.app.SetLanguage(r.Context(), in.actor, lang); err != nil {
		s.fail(w, r, err)
		return
	}
	back := "/"
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		back = safeNext(ref.RequestURI())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// clientIP is the address of the client as the server sees it (behind a
// reverse proxy, the proxy's).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
