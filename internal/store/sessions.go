package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Browser sessions of the web pages. A session is stored as the SHA-256 of its
// token (the token lives only in the browser's cookie), with an absolute
// expiry; it also ends after an idle period, when its account is disabled, and
// at sign-out. Sign-in and sign-out are audited in the same transaction as the
// session's creation or removal; failed sign-ins are audited and counted for
// throttling (signin_failures), never with the password typed.

// SessionUser is the account behind a live session, with its language.
type SessionUser struct {
	User     User
	Language string // "", "fr" or "en"
}

// touchEvery bounds how often a session's last_seen_at is written: once a
// minute is precise enough for an idle timeout counted in hours.
const touchEvery = time.Minute

// NewSession is what CreateSession stores.
type NewSession struct {
	TokenHash []byte
	UserID    string
	ExpiresAt time.Time
	IP        string
	UserAgent string
	Method    string // how the user signed in, audited: "" (password) or "oidc"
}

// CreateSession stores a new session and audits "session.started". Expired
// sessions and old failure counts are pruned on the way.
func (s *Store) CreateSession(ctx context.Context, ns NewSession) error {
	if len(ns.TokenHash) == 0 || !validID(ns.UserID) {
		return fmt.Errorf("store: create session: %w", breach.Invalid("session", "token hash and user are required"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		u, err := scanUser(tx.tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, ns.UserID))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("user")
		}
		if err != nil {
			return err
		}
		if _, err := tx.tx.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at < now()`); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(ctx, `DELETE FROM signin_failures WHERE at < now() - interval '1 day'`); err != nil {
			return err
		}
		_, err = tx.tx.Exec(ctx, `INSERT INTO web_sessions (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)`,
			ns.TokenHash, ns.UserID, micro(ns.ExpiresAt), clipText(ns.IP, 100), clipText(ns.UserAgent, 300))
		if err != nil {
			return mapErr(err)
		}
		after := map[string]any{"user_id": u.ID, "ip": clipText(ns.IP, 100), "expires_at": micro(ns.ExpiresAt)}
		if ns.Method != "" {
			after["method"] = ns.Method
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: u.Actor(), Action: "session.started", After: after})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionUser returns the account of a live session: not expired, seen within
// idle, and its account not disabled. It notes the session's use. Anything
// else is not found.
func (s *Store) SessionUser(ctx context.Context, tokenHash []byte, idle time.Duration) (SessionUser, error) {
	var su SessionUser
	var lastSeen time.Time
	row := s.Pool.QueryRow(ctx, `
		SELECT `+prefixed("u.", userColumns)+`, u.language, s.last_seen_at
		FROM web_sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $2 * interval '1 second' AND NOT u.disabled`,
		tokenHash, int64(idle/time.Second))
	err := row.Scan(&su.User.ID, &su.User.Username, &su.User.DisplayName, (*string)(&su.User.Role), &su.User.PasswordHash,
		&su.User.CreatedAt, &su.User.Disabled, &su.Language, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return su, fmt.Errorf("store: session user: %w", notFound("session"))
	}
	if err != nil {
		return su, fmt.Errorf("store: session user: %w", err)
	}
	su.User.CreatedAt = utc(su.User.CreatedAt)
	if time.Since(lastSeen) > touchEvery {
		if _, err := s.Pool.Exec(ctx, `UPDATE web_sessions SET last_seen_at = now() WHERE token_hash = $1`, tokenHash); err != nil {
			return su, fmt.Errorf("store: session user: touch: %w", err)
		}
	}
	return su, nil
}

// EndSession removes the session and audits "session.ended". Ending a session
// that does not exist (expired, ended elsewhere) is not an error.
func (s *Store) EndSession(ctx context.Context, actor breach.Actor, tokenHash []byte) error {
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, tokenHash)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "session.ended", After: map[string]any{"user_id": actor.UserID}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: end session: %w", err)
	}
	return nil
}

// EndUserSessions removes every session of an account (when it is disabled)
// and returns how many there were.
func (s *Store) EndUserSessions(ctx context.Context, userID string) (int64, error) {
	if !validID(userID) {
		return 0, fmt.Errorf("store: end user sessions: %w", notFound("user"))
	}
	tag, err := s.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("store: end user sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// SignInFailures counts the failed sign-ins since the given time for the
// username and for the client address.
func (s *Store) SignInFailures(ctx context.Context, username, ip string, since time.Time) (byUser, byIP int, err error) {
	err = s.Pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE username = $1), count(*) FILTER (WHERE ip = $2)
		FROM signin_failures WHERE at > $3 AND (username = $1 OR ip = $2)`,
		clipText(username, 200), clipText(ip, 100), since).Scan(&byUser, &byIP)
	if err != nil {
		return 0, 0, fmt.Errorf("store: sign-in failures: %w", err)
	}
	return byUser, byIP, nil
}

// SignInFailure is one refused sign-in, as audited: never the password typed.
type SignInFailure struct {
	Username  string // as typed, bounded
	UserID    string // the account, when the username names one
	IP        string
	Reason    string // "unknown_account", "wrong_password", "disabled", "no_password", "throttled"
	Throttled bool   // refused without checking the password: not counted again
}

// RecordSignInFailure audits "signin.failed" (or "signin.throttled") and,
// unless the attempt was throttled, counts it for throttling, in one transaction.
func (s *Store) RecordSignInFailure(ctx context.Context, f SignInFailure) error {
	actor := breach.Actor{UserID: "anonymous"}
	after := map[string]any{"reason": f.Reason, "ip": clipText(f.IP, 100)}
	if f.UserID != "" {
		after["user_id"] = f.UserID
	} else {
		after["username"] = clipText(f.Username, 100)
	}
	action := "signin.failed"
	if f.Throttled {
		action = "signin.throttled"
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		if !f.Throttled {
			if _, err := tx.tx.Exec(ctx, `INSERT INTO signin_failures (username, ip) VALUES ($1, $2)`,
				clipText(f.Username, 200), clipText(f.IP, 100)); err != nil {
				return err
			}
		}
		_, err := tx.Audit(ctx, AuditEntry{Actor: actor, Action: action, After: after})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record sign-in failure: %w", err)
	}
	return nil
}

// ClearSignInFailures forgets the failures counted against a username, after
// its owner signed in.
func (s *Store) ClearSignInFailures(ctx context.Context, username string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM signin_failures WHERE username = $1`, clipText(username, 200)); err != nil {
		return fmt.Errorf("store: clear sign-in failures: %w", err)
	}
	return nil
}

// SetUserLanguage records the language an account reads the pages in ("" to
// follow the browser).
func (s *Store) SetUserLanguage(ctx context.Context, userID, language string) error {
	if !validID(userID) {
		return fmt.Errorf("store: set language: %w", notFound("user"))
	}
	if language != "" && language != "fr" && language != "en" {
		return fmt.Errorf("store: set language: %w", breach.Invalid("language", "must be fr or en"))
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE users SET language = $2 WHERE id = $1`, userID, language)
	if err != nil {
		return fmt.Errorf("store: set language: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: set language: %w", notFound("user"))
	}
	return nil
}

// clipText bounds a string to n bytes without cutting a UTF-8 sequence.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
