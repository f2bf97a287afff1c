package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// Sign-in to the web pages with a local account: the password is checked
// against its argon2id hash, a session is started with a random token of
// which only the hash is stored, and every refusal is audited (never with the
// password typed) and counted, so that guessing is throttled per username
// and per client address.

// SessionPolicy bounds sessions and sign-in attempts.
type SessionPolicy struct {
	Lifetime    time.Duration // absolute, from sign-in
	Idle        time.Duration // without a request
	Window      time.Duration // over which failures are counted
	MaxPerUser  int           // failures of one username in Window before refusing
	MaxPerIP    int           // failures from one address in Window before refusing
	MaxUsername int           // longest username considered (longer ones fail)
}

// DefaultSessionPolicy: a working day, an idle hour, 5 wrong passwords per
// account or 20 per address in 15 minutes.
var DefaultSessionPolicy = SessionPolicy{
	Lifetime: 12 * time.Hour, Idle: time.Hour, Window: 15 * time.Minute,
	MaxPerUser: 5, MaxPerIP: 20, MaxUsername: 200,
}

// ThrottledError refuses a sign-in without checking the password: too many
// recent failures for the username or the address.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %s", e.RetryAfter.Round(time.Minute))
}

// ErrBadCredentials is the one answer to a wrong username, a wrong password,
// a disabled account or an account without a password: which one it was is
// in the audit log, not in the answer.
var ErrBadCredentials = &breach.Error{Code: breach.ErrUnauthenticated, Message: "wrong username or password"}

// SignInRequest is what the sign-in form sends, with where it came from.
type SignInRequest struct {
	Username  string
	Password  string
	IP        string
	UserAgent string
}

// Session is a started session: the token goes in the cookie and nowhere else.
type Session struct {
	Token     string
	User      store.User
	Language  string
	ExpiresAt time.Time
}

// SignIn checks a username and password and starts a session.
func (s *Service) SignIn(ctx context.Context, p SessionPolicy, req SignInRequest) (Session, error) {
	username := strings.TrimSpace(req.Username)
	fail := func(f store.SignInFailure) (Session, error) {
		f.Username, f.IP = username, req.IP
		if err := s.Store.RecordSignInFailure(context.WithoutCancel(ctx), f); err != nil {
			return Session{}, err
		}
		if f.Throttled {
			return Session{}, &ThrottledError{RetryAfter: p.Window}
		}
		return Session{}, ErrBadCredentials
	}
	byUser, byIP, err := s.Store.SignInFailures(ctx, username, req.IP, s.now().Add(-p.Window))
	if err != nil {
		return Session{}, err
	}
	if byUser >= p.MaxPerUser || byIP >= p.MaxPerIP {
		return fail(store.SignInFailure{Reason: "throttled", Throttled: true})
	}
	if username == "" || len(username) > p.MaxUsername || len(req.Password) > 4*auth.MaxPasswordLen {
		auth.DummyVerify(req.Password)
		return fail(store.SignInFailure{Reason: "unknown_account"})
	}
	u, err := s.Store.UserByUsername(ctx, username)
	switch {
	case breach.ErrorCode(err) == breach.ErrNotFound:
		auth.DummyVerify(req.Password) // the same time as a known username
		return fail(store.SignInFailure{Reason: "unknown_account"})
	case err != nil:
		return Session{}, err
	}
	if u.PasswordHash == "" {
		auth.DummyVerify(req.Password)
		return fail(store.SignInFailure{UserID: u.ID, Reason: "no_password"})
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, req.Password)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return Session{}, err
	}
	switch {
	case err != nil:
		return fail(store.SignInFailure{UserID: u.ID, Reason: "malformed_hash"})
	case !ok:
		return fail(store.SignInFailure{UserID: u.ID, Reason: "wrong_password"})
	case u.Disabled:
		return fail(store.SignInFailure{UserID: u.ID, Reason: "disabled"})
	}
	token, hash := auth.NewToken()
	sess := Session{Token: token, User: u, ExpiresAt: s.now().Add(p.Lifetime)}
	if err := s.Store.CreateSession(ctx, store.NewSession{
		TokenHash: hash, UserID: u.ID, ExpiresAt: sess.ExpiresAt, IP: req.IP, UserAgent: req.UserAgent,
	}); err != nil {
		return Session{}, err
	}
	if err := s.Store.ClearSignInFailures(ctx, username); err != nil {
		return Session{}, err
	}
	su, err := s.Store.SessionUser(ctx, hash, p.Idle)
	if err != nil {
		return Session{}, err
	}
	sess.Language = su.Language
	return sess, nil
}

// SessionUser resolves a session token to its account; an unknown, expired,
// idle or disabled one is unauthenticated.
func (s *Service) SessionUser(ctx context.Context, p SessionPolicy, token string) (store.SessionUser, error) {
	if !auth.LooksLikeToken(token) {
		return store.SessionUser{}, breach.Errorf(breach.ErrUnauthenticated, "no session")
	}
	su, err := s.Store.SessionUser(ctx, auth.HashToken(token), p.Idle)
	if breach.ErrorCode(err) == breach.ErrNotFound {
		return su, breach.Errorf(breach.ErrUnauthenticated, "no session")
	}
	return su, err
}

// SignOut ends the session.
func (s *Service) SignOut(ctx context.Context, actor breach.Actor, token string) error {
	return s.Store.EndSession(ctx, actor, auth.HashToken(token))
}
