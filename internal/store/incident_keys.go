package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/vault"
)

// Each incident's data key (migration 011, internal/vault incident.go): the
// people of an incident are sealed and indexed under a key of its own, kept
// here only wrapped by BREACH_DATA_KEY, so that the purge can destroy the
// incident's contact data by destroying that key (crypto-shredding, GDPR
// Art. 5(1)(e)).
//
// The key is unwrapped for each use (an import, one batch of recipients, a
// look-up) and never cached: a worker holding it in memory after the purge
// would defeat the purge. Unwrapping costs one AES-GCM open, two HKDFs and a
// primary-key read, against a batch of a thousand letters.
//
// Compatibility. People imported before migration 011 are sealed under the
// ring (their key_id names a ring key): they stay as they are, readable and
// findable through the incident's Vault, which knows the ring's keys after
// its own; a later import into such an incident seals its new rows under the
// incident key and de-duplicates against the old ones through their ring
// index. They are not re-sealed: that would rewrite every row of incidents
// that may be closed already, for data the purge deletes anyway. What the
// purge does to them is deletion, not crypto-shredding (a backup keeps them
// readable with the ring), and its audit row counts them apart
// (ring_sealed). Rotate the ring and retire the old key to shred those
// copies too.

// IncidentVault returns the Vault that seals and opens the contact data of
// the incident's people (v: the ring, BREACH_DATA_KEY). Every read of a
// sealed people column goes through it: rows sealed under the incident key
// (vault.IncidentKeyID) open only with it. After the purge, opening such a
// row fails with vault.ErrKeyDestroyed.
func (s *Store) IncidentVault(ctx context.Context, v *vault.Vault, incidentID string) (*vault.Vault, error) {
	if v == nil {
		return nil, errors.New("store: incident key: no data key (vault)")
	}
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: incident key: %w", notFound("incident"))
	}
	iv, err := incidentVault(ctx, s.Pool, v, incidentID, false)
	if err != nil {
		return nil, fmt.Errorf("store: incident key: %w", err)
	}
	return iv, nil
}

// incidentVault reads the incident's key and unwraps it. With create, an
// incident without a key gets one, in q's transaction (the caller holds the
// incident's people lock, so two imports do not race; ON CONFLICT covers any
// other writer); a destroyed key is then an error, since nothing may be
// sealed for a purged incident.
func incidentVault(ctx context.Context, q querier, v *vault.Vault, incidentID string, create bool) (*vault.Vault, error) {
	incident := uuid.MustParse(incidentID)
	var keyID *string
	var wrapped []byte
	var destroyedAt *time.Time
	err := q.QueryRow(ctx, `SELECT key_id, wrapped, destroyed_at FROM incident_keys WHERE incident_id = $1`, incidentID).
		Scan(&keyID, &wrapped, &destroyedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && !create:
		return v.WithoutIncidentKey(), nil
	case errors.Is(err, pgx.ErrNoRows):
		w, err := v.NewIncidentKey(incident)
		if err != nil {
			return nil, err
		}
		tag, err := q.Exec(ctx, `INSERT INTO incident_keys (incident_id, key_id, wrapped) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id) DO NOTHING`, incidentID, w.KeyID, w.Sealed)
		if err != nil {
			return nil, fmt.Errorf("create: %w", mapErr(err))
		}
		if tag.RowsAffected() == 0 { // made meanwhile by another transaction
			return incidentVault(ctx, q, v, incidentID, create)
		}
		return v.ForIncident(incident, w)
	case err != nil:
		return nil, fmt.Errorf("read: %w", err)
	case destroyedAt != nil && create:
		return nil, breach.Errorf(breach.ErrConflict, "the contact data of this incident was purged: nothing more can be sealed for it")
	case destroyedAt != nil:
		return v.Destroyed(), nil
	}
	return v.ForIncident(incident, vault.WrappedKey{KeyID: *keyID, Sealed: wrapped})
}

// RewrapIncidentKeys re-wraps every live incident key that is not wrapped
// under the ring's current key (after a rotation of BREACH_DATA_KEY), in one
// transaction with one audit row ("keys.rewrapped", counts and key IDs). Once
// it has run, an old key can leave the ring without losing any incident, and
// the wrapped copies that backups made before the rotation keep of destroyed
// keys can no longer be unwrapped. It returns how many keys it re-wrapped.
func (s *Store) RewrapIncidentKeys(ctx context.Context, actor breach.Actor, v *vault.Vault) (int64, error) {
	if v == nil {
		return 0, errors.New("store: rewrap incident keys: no data key (vault)")
	}
	current := v.WrapKeyID()
	var n int64
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT incident_id::text, key_id, wrapped FROM incident_keys
			WHERE destroyed_at IS NULL AND key_id <> $1 ORDER BY incident_id FOR UPDATE`, current)
		if err != nil {
			return err
		}
		type row struct {
			id string
			w  vault.WrappedKey
		}
		var todo []row
		from := map[string]int64{}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.w.KeyID, &r.w.Sealed); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, r)
			from[r.w.KeyID]++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range todo {
			w, err := v.Rewrap(uuid.MustParse(r.id), r.w)
			if err != nil {
				return fmt.Errorf("incident %s: %w", r.id, err)
			}
			if _, err := tx.tx.Exec(ctx, `UPDATE incident_keys SET key_id = $2, wrapped = $3, rewrapped_at = now()
				WHERE incident_id = $1`, r.id, w.KeyID, w.Sealed); err != nil {
				return fmt.Errorf("incident %s: %w", r.id, err)
			}
		}
		n = int64(len(todo))
		if n == 0 {
			return nil
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "keys.rewrapped",
			After: map[string]any{"rewrapped": n, "from_key_ids": from, "key_id": current}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: rewrap incident keys: %w", err)
	}
	return n, nil
}
