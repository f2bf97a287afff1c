package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Accounts signed in through OpenID Connect: matched by issuer and subject,
// created at their first sign-in with the role their claim maps to, and given
// that role again at every sign-in (the provider is the source of truth).
// They have no password: the local sign-in refuses them.

// OIDCIdentity is who the provider vouched for, and the role mapped from the
// claim.
type OIDCIdentity struct {
	Issuer      string
	Subject     string
	Username    string // preferred username for a new account; taken: suffixed
	DisplayName string
	Role        breach.Role
}

// UserByOIDC returns the account of an issuer and subject (disabled ones too).
func (s *Store) UserByOIDC(ctx context.Context, issuer, subject string) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2`,
		issuer, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("user")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by oidc: %w", err)
	}
	return u, nil
}

// OIDCUser matches or creates the account of an identity. A new account is
// audited "user.created" (with "oidc": true), a role that changed
// "user.role_changed", both by the account itself; the audit rows hold the account's ID and role, not
// its name or e-mail address.
func (s *Store) OIDCUser(ctx context.Context, id OIDCIdentity) (User, error) {
	if id.Issuer == "" || id.Subject == "" {
		return User{}, fmt.Errorf("store: oidc user: %w", breach.Invalid("subject", "is required"))
	}
	if !id.Role.Valid() {
		return User{}, fmt.Errorf("store: oidc user: %w", breach.Invalid("role", "unknown role"))
	}
	var u User
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		u, err = scanUser(tx.tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2 FOR UPDATE`,
			id.Issuer, id.Subject))
		switch {
		case err == nil:
			if u.Role == id.Role {
				return nil
			}
			before := u.Role
			if _, err := tx.tx.Exec(ctx, `UPDATE users SET role = $2 WHERE id = $1`, u.ID, string(id.Role)); err != nil {
				return err
			}
			u.Role = id.Role
			_, err = tx.Audit(ctx, AuditEntry{
				Actor: u.Actor(), Action: "user.role_changed",
				Before: map[string]any{"user_id": u.ID, "role": before},
				After:  map[string]any{"user_id": u.ID, "role": u.Role, "oidc": true},
			})
			return err
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		// A new account: the preferred username if free, else suffixed with a
		// digest of the identity, stable from one attempt to the next.
		base := clipText(strings.TrimSpace(id.Username), 150)
		if base == "" {
			base = "oidc"
		}
		sum := sha256.Sum256([]byte(id.Issuer + "\x00" + id.Subject))
		for _, name := range []string{base, base + "-" + hex.EncodeToString(sum[:4]), base + "-" + hex.EncodeToString(sum[:12])} {
			u, err = scanUser(tx.tx.QueryRow(ctx, `
				INSERT INTO users (username, display_name, role, password_hash, oidc_issuer, oidc_subject)
				VALUES ($1, $2, $3, '', $4, $5) ON CONFLICT (username) DO NOTHING
				RETURNING `+userColumns, name, clipText(id.DisplayName, 200), string(id.Role), id.Issuer, id.Subject))
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return mapErr(err)
			}
			_, err = tx.Audit(ctx, AuditEntry{
				Actor: u.Actor(), Action: "user.created",
				After: map[string]any{"user_id": u.ID, "role": u.Role, "oidc": true},
			})
			return err
		}
		return &breach.Error{Code: breach.ErrConflict, Field: "username", Message: "is taken"}
	})
	if err != nil {
		return User{}, fmt.Errorf("store: oidc user: %w", err)
	}
	return u, nil
}

// OIDCRefusal is one refused OpenID Connect sign-in, as audited: never a
// token, a code or an e-mail address.
type OIDCRefusal struct {
	UserID  string // the account, when the identity matches one
	Issuer  string
	Subject string // the provider's opaque ID, when the ID token was valid
	IP      string
	Reason  string // "no_role", "disabled", "bad_state", "provider_error", "invalid_token", ...
}

// RecordOIDCRefusal audits "signin.oidc_refused", by the account when known.
func (s *Store) RecordOIDCRefusal(ctx context.Context, f OIDCRefusal) error {
	actor := breach.Actor{UserID: "anonymous"}
	after := map[string]any{"reason": clipText(f.Reason, 100), "ip": clipText(f.IP, 100), "issuer": clipText(f.Issuer, 300)}
	if f.UserID != "" {
		actor.UserID = f.UserID
		after["user_id"] = f.UserID
	}
	if f.Subject != "" {
		after["subject"] = clipText(f.Subject, 255)
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Audit(ctx, AuditEntry{Actor: actor, Action: "signin.oidc_refused", After: after})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record oidc refusal: %w", err)
	}
	return nil
}
