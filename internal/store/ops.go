package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Lock keys. Op keys are locked through the one-argument (bigint) form of the
// advisory lock functions, the audit chain through the two-argument form: the
// two spaces never collide.
const (
	lockClassBreach = 0x42524348 // "BRCH"
	lockAuditChain  = 1
)

// Do runs fn in one transaction unless op.Key was applied already. The value fn
// returns is stored as JSON with the key in the same transaction and decoded
// into result (a pointer, or nil); a later call with the same key decodes the
// stored value into result without calling fn, and reports replayed.
// Concurrent calls with the same key are serialised.
func (s *Store) Do(ctx context.Context, op Op, result any, fn func(ctx context.Context, tx *Tx) (any, error)) (replayed bool, err error) {
	if op.Key == "" {
		return false, breach.Errorf(breach.ErrInvalid, "store: operation without a key")
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, op.Key); err != nil {
		return false, fmt.Errorf("store: lock operation: %w", err)
	}
	var stored []byte
	err = tx.QueryRow(ctx, `SELECT result FROM applied_ops WHERE op_key = $1`, op.Key).Scan(&stored)
	switch {
	case err == nil:
		if result != nil {
			if err := json.Unmarshal(stored, result); err != nil {
				return true, fmt.Errorf("store: decode stored result of operation: %w", err)
			}
		}
		return true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return false, fmt.Errorf("store: look up operation: %w", err)
	}

	value, err := fn(ctx, &Tx{tx: tx, op: op, s: s})
	if err != nil {
		return false, err
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return false, fmt.Errorf("store: encode operation result: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO applied_ops (op_key, result) VALUES ($1, $2)`, op.Key, encoded); err != nil {
		return false, fmt.Errorf("store: record operation: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: commit: %w", err)
	}
	if result != nil {
		if err := json.Unmarshal(encoded, result); err != nil {
			return false, fmt.Errorf("store: decode operation result: %w", err)
		}
	}
	return false, nil
}

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(ctx, &Tx{tx: tx, s: s}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Applied reports whether the operation key was applied.
func (s *Store) Applied(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM applied_ops WHERE op_key = $1)`, key).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: applied: %w", err)
	}
	return ok, nil
}

// readSnapshot runs fn in a read-only, repeatable-read transaction: several
// queries that see one state of the database.
func (s *Store) readSnapshot(ctx context.Context, fn func(q querier) error) error {
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
