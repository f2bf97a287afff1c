package app

import (
	"context"

	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// Sign-in through an OpenID Connect provider: the web layer runs the flow and
// verifies the ID token; here the account is matched or created by issuer and
// subject with the role mapped from the token's claim, and the same session as
// a local sign-in is started. Every refusal is audited, never with a token.

// OIDCSignInRequest is a verified identity with the role its claim maps to
// ("" when none does), and where the request came from.
type OIDCSignInRequest struct {
	Identity  store.OIDCIdentity
	IP        string
	UserAgent string
}

// ErrOIDCNoRole refuses an identity whose claim maps to no role.
var ErrOIDCNoRole = &breach.Error{Code: breach.ErrForbidden, Message: "no role of this engine is granted to this account"}

// ErrOIDCDisabled refuses an identity whose account is disabled.
var ErrOIDCDisabled = &breach.Error{Code: breach.ErrForbidden, Message: "this account is disabled"}

// OIDCSignIn starts a session for a verified identity.
func (s *Service) OIDCSignIn(ctx context.Context, p SessionPolicy, req OIDCSignInRequest) (Session, error) {
	id := req.Identity
	refuse := func(userID, reason string, e error) (Session, error) {
		if err := s.Store.RecordOIDCRefusal(context.WithoutCancel(ctx), store.OIDCRefusal{
			UserID: userID, Issuer: id.Issuer, Subject: id.Subject, IP: req.IP, Reason: reason,
		}); err != nil {
			return Session{}, err
		}
		return Session{}, e
	}
	if id.Role == "" {
		known, err := s.Store.UserByOIDC(ctx, id.Issuer, id.Subject)
		if err != nil && breach.ErrorCode(err) != breach.ErrNotFound {
			return Session{}, err
		}
		return refuse(known.ID, "no_role", ErrOIDCNoRole)
	}
	u, err := s.Store.OIDCUser(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if u.Disabled {
		return refuse(u.ID, "disabled", ErrOIDCDisabled)
	}
	token, hash := auth.NewToken()
	sess := Session{Token: token, User: u, ExpiresAt: s.now().Add(p.Lifetime)}
	if err := s.Store.CreateSession(ctx, store.NewSession{
		TokenHash: hash, UserID: u.ID, ExpiresAt: sess.ExpiresAt, IP: req.IP, UserAgent: req.UserAgent, Method: "oidc",
	}); err != nil {
		return Session{}, err
	}
	su, err := s.Store.SessionUser(ctx, hash, p.Idle)
	if err != nil {
		return Session{}, err
	}
	sess.Language = su.Language
	return sess, nil
}

// RecordOIDCRefusal audits a sign-in refused before any identity was
// established (a forged state, an invalid ID token, an error from the provider).
func (s *Service) RecordOIDCRefusal(ctx context.Context, issuer, ip, reason string) error {
	return s.Store.RecordOIDCRefusal(context.WithoutCancel(ctx), store.OIDCRefusal{Issuer: issuer, IP: ip, Reason: reason})
}
