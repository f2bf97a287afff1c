package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// User is an account of the engine. PasswordHash is an argon2id PHC string
// (empty: no password login); it never leaves the server.
type User struct {
	ID           string      `json:"id"`
	Username     string      `json:"username"`
	DisplayName  string      `json:"display_name"`
	Role         breach.Role `json:"role"`
	PasswordHash string      `json:"-"`
	CreatedAt    time.Time   `json:"created_at"`
	Disabled     bool        `json:"disabled"`
}

// Actor is the user as the actor of a change.
func (u User) Actor() breach.Actor { return breach.Actor{UserID: u.ID, Role: u.Role} }

// NewUser is what CreateUser needs.
type NewUser struct {
	Username     string
	DisplayName  string
	Role         breach.Role
	PasswordHash string
}

const userColumns = `id::text, username, display_name, role, password_hash, created_at, disabled`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var role string
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &role, &u.PasswordHash, &u.CreatedAt, &u.Disabled)
	u.Role, u.CreatedAt = breach.Role(role), utc(u.CreatedAt)
	return u, err
}

// CreateUser creates an account and audits "user.created". A taken username
// is a conflict.
func (s *Store) CreateUser(ctx context.Context, actor breach.Actor, nu NewUser) (User, error) {
	var u User
	nu.Username = strings.TrimSpace(nu.Username)
	if nu.Username == "" {
		return u, fmt.Errorf("store: create user: %w", breach.Invalid("username", "is required"))
	}
	if !nu.Role.Valid() {
		return u, fmt.Errorf("store: create user: %w", breach.Invalid("role", "unknown role"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		u, err = scanUser(tx.tx.QueryRow(ctx, `
			INSERT INTO users (username, display_name, role, password_hash) VALUES ($1, $2, $3, $4)
			RETURNING `+userColumns, nu.Username, nu.DisplayName, string(nu.Role), nu.PasswordHash))
		if err != nil {
			if breach.ErrorCode(mapErr(err)) == breach.ErrConflict {
				return &breach.Error{Code: breach.ErrConflict, Field: "username", Message: "is taken"}
			}
			return err
		}
		_, err = tx.Audit(ctx, AuditEntry{
			Actor: actor, Action: "user.created",
			After: map[string]any{"user_id": u.ID, "role": u.Role},
		})
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

func (s *Store) oneUser(ctx context.Context, op, where string, arg any) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("user")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return u, nil
}

// UserByUsername returns the account with that username (disabled ones too).
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	return s.oneUser(ctx, "user by username", `username = $1`, username)
}

// UserByID returns the account with that ID (disabled ones too).
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	if !validID(id) {
		return User{}, fmt.Errorf("store: user by id: %w", notFound("user"))
	}
	return s.oneUser(ctx, "user by id", `id = $1`, id)
}

// ListUsers lists every account by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return out, nil
}

// SetUserDisabled disables or re-enables an account ("user.disabled" /
// "user.enabled"); a disabled account's tokens stop working.
func (s *Store) SetUserDisabled(ctx context.Context, actor breach.Actor, userID string, disabled bool) error {
	if !validID(userID) {
		return fmt.Errorf("store: set user disabled: %w", notFound("user"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `UPDATE users SET disabled = $2 WHERE id = $1`, userID, disabled)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("user")
		}
		action := "user.enabled"
		if disabled {
			action = "user.disabled"
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: action, After: map[string]any{"user_id": userID, "disabled": disabled}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set user disabled: %w", err)
	}
	return nil
}

// SetPasswordHash replaces an account's password hash ("user.password_changed").
func (s *Store) SetPasswordHash(ctx context.Context, actor breach.Actor, userID, passwordHash string) error {
	if !validID(userID) {
		return fmt.Errorf("store: set password: %w", notFound("user"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, passwordHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("user")
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "user.password_changed", After: map[string]any{"user_id": userID}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set password: %w", err)
	}
	return nil
}

// CreateAPIToken stores the sha256 hash of a new API token for the user and
// audits "token.created". The token itself is never stored.
func (s *Store) CreateAPIToken(ctx context.Context, actor breach.Actor, userID, label string, tokenHash []byte) error {
	if !validID(userID) {
		return fmt.Errorf("store: create api token: %w", notFound("user"))
	}
	if len(tokenHash) == 0 {
		return fmt.Errorf("store: create api token: %w", breach.Invalid("token", "is empty"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		var tokenID string
		err := tx.tx.QueryRow(ctx, `INSERT INTO api_tokens (token_hash, user_id, label) VALUES ($1, $2, $3) RETURNING id::text`,
			tokenHash, userID, label).Scan(&tokenID)
		if err != nil {
			return mapErr(err)
		}
		_, err = tx.Audit(ctx, AuditEntry{
			Actor: actor, Action: "token.created",
			After: map[string]any{"token_id": tokenID, "user_id": userID, "label": label},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create api token: %w", err)
	}
	return nil
}

// RevokeAPIToken revokes the token with that hash ("token.revoked"). Revoking
// a revoked or unknown token is not found.
func (s *Store) RevokeAPIToken(ctx context.Context, actor breach.Actor, tokenHash []byte) error {
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		var tokenID, userID string
		err := tx.tx.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL
			RETURNING id::text, user_id::text`, tokenHash).Scan(&tokenID, &userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("token")
		}
		if err != nil {
			return err
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "token.revoked", After: map[string]any{"token_id": tokenID, "user_id": userID}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: revoke api token: %w", err)
	}
	return nil
}

// UserByTokenHash returns the owner of a live API token and notes its use.
// Revoked tokens, and tokens of disabled accounts, are not found.
func (s *Store) UserByTokenHash(ctx context.Context, tokenHash []byte) (User, error) {
	u, err := scanUser(s.Pool.QueryRow(ctx, `
		WITH used AS (
			UPDATE api_tokens t SET last_used_at = now()
			FROM users u
			WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.id = t.user_id AND NOT u.disabled
			RETURNING t.user_id
		)
		SELECT `+prefixed("u.", userColumns)+` FROM users u JOIN used ON used.user_id = u.id`, tokenHash))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("token")
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by token: %w", err)
	}
	return u, nil
}

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
