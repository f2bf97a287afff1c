// Package store keeps the engine's domain state in Postgres through pgx: SQL
// written by hand, one file per aggregate, migrations embedded in the binary.
//
// Every change that a person decided or that reached the outside world appends
// a row to the hash-chained audit log in the same transaction (audit.go).
// Activities make their changes through Do, which records the operation key
// with the result so that a retried activity does not make the change twice.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breach-engine/breach/internal/breach"
)

// Store wraps the connection pool.
type Store struct {
	Pool *pgxpool.Pool
	// Now is the clock for times the store sets itself (approval times,
	// closing times); nil means time.Now. Audit row times come from the
	// database clock.
	Now func() time.Time
}

// Open connects to the database at url. It does not migrate: call Migrate first.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open: parse database URL: %w", redactURLError(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() {
	if s != nil && s.Pool != nil {
		s.Pool.Close()
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// redactURLError keeps a password in a malformed URL out of the message.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid database URL")
	}
	return err
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Op identifies one activity's change: Key is unique per workflow decision
// (OpKey), WorkflowID and RunID go into the audit rows the change appends.
type Op struct {
	Key        string
	WorkflowID string
	RunID      string
}

// Tx is a transaction opened by Do or InTx. Its methods make changes and
// append audit rows; they are committed together or not at all.
type Tx struct {
	tx pgx.Tx
	op Op
	s  *Store
}

// Op is the operation the transaction belongs to (zero for InTx).
func (t *Tx) Op() Op { return t.op }

// Now is the store's clock.
func (t *Tx) Now() time.Time { return t.s.now() }

// validID reports whether id is a UUID: malformed IDs are simply not found.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

func notFound(what string) error {
	return breach.Errorf(breach.ErrNotFound, "%s not found", what)
}

// mapErr turns constraint violations into domain errors; messages name the
// constraint, never the values.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return &breach.Error{Code: breach.ErrConflict, Message: "already exists (" + pe.ConstraintName + ")"}
		case "23503": // foreign_key_violation
			return &breach.Error{Code: breach.ErrNotFound, Message: "refers to a missing row (" + pe.ConstraintName + ")"}
		case "23514", "22P02", "22007", "22008": // check, invalid text, datetime
			return &breach.Error{Code: breach.ErrInvalid, Message: "invalid value (" + pe.ConstraintName + ")"}
		case "BR409": // migration 011: a closed incident's register entry is frozen
			return closedConflict()
		}
	}
	return err
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func typed[T ~string](xs []string) []T {
	if len(xs) == 0 {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
