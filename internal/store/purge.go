package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/vault"
)

// The purge of a closed incident's contact data (issue 4, item 4; DESIGN.md
// track 5). GDPR Art. 5(1)(e): the list of affected people is a copy of the
// breached data, kept only as long as the incident needs it; once it is
// closed and its retention period is over, the engine destroys it. What
// Art. 33(5) needs to document the breach stays: the people rows themselves
// (IDs, language, merged counts, the now meaningless blind index), the ledger
// with its states and content hashes, the delivery counts, the account-reset
// states, the letters, the dossiers, the filings and the audit log.

// PurgeResult says what a purge did; it is also the "people.purged" audit
// row's after, counts only.
type PurgeResult struct {
	// People is the number of people of the incident (rows kept).
	People int64 `json:"people"`
	// Purged is the number of rows whose sealed columns were emptied now.
	Purged int64 `json:"purged"`
	// Shredded of them were sealed under the incident key, now destroyed:
	// their copies in backups are unreadable too. RingSealed were sealed
	// under BREACH_DATA_KEY before incident keys existed: emptied, not
	// shredded (see incident_keys.go).
	Shredded   int64 `json:"shredded"`
	RingSealed int64 `json:"ring_sealed"`
	// Key is "destroyed" (the incident had a data key, now gone) or "none".
	Key string `json:"key"`
	// WrappedUnder is the BREACH_DATA_KEY key that wrapped the destroyed key.
	WrappedUnder string `json:"wrapped_under,omitempty"`
	// Deliveries are the ledger's counts by state, kept, for the record.
	Deliveries breach.DeliveryCounts `json:"deliveries"`
	PurgedAt   time.Time             `json:"purged_at"`
	// Already is true when the incident had been purged before: nothing was
	// done and nothing audited.
	Already bool `json:"already,omitempty"`
}

// PurgePeople destroys the contact data of a closed incident's people: it
// empties their sealed columns (contact, and email, full_name, phone and
// account_id of rows loaded before migration 014; has_account becomes
// false as account_id became NULL) and
// destroys the incident's data key (its wrapped bytes overwritten with NULL,
// destroyed_at and destroyed_by recorded), and audits "people.purged" with
// the counts, all in the transaction. Afterwards Recipients finds no one and
// a sealed value of the incident restored from a backup fails to open with
// vault.ErrKeyDestroyed. A second purge changes nothing and audits nothing
// (Already). An open incident, or one whose send is still active, is refused
// (conflict): the purge follows the closure and the end of the sending.
//
// The old row versions stay in the table's heap until VACUUM reclaims them,
// and in the WAL and backups: for the rows under the incident key that is
// ciphertext whose key no longer exists; the wrapped key itself lingers the
// same way, and is unreadable once the ring key that wrapped it is retired
// (RewrapIncidentKeys).
func (t *Tx) PurgePeople(ctx context.Context, actor breach.Actor, incidentID string) (PurgeResult, error) {
	res, err := t.purgePeople(ctx, actor, incidentID)
	if err != nil {
		return res, fmt.Errorf("store: purge people: %w", err)
	}
	return res, nil
}

func (t *Tx) purgePeople(ctx context.Context, actor breach.Actor, incidentID string) (PurgeResult, error) {
	var res PurgeResult
	if !validID(incidentID) {
		return res, notFound("incident")
	}
	// The people lock: an import (refused anyway: the incident is closed)
	// or a send start cannot interleave.
	if _, err := t.tx.Exec(ctx, peopleLockSQL, incidentID); err != nil {
		return res, fmt.Errorf("lock: %w", err)
	}
	inc, err := t.Incident(ctx, incidentID)
	if err != nil {
		return res, err
	}
	if inc.State != breach.StateClosed {
		return res, breach.Errorf(breach.ErrConflict, "the incident is not closed: its people's contact data is still needed")
	}
	if active, err := activeSend(ctx, t.tx, incidentID); err != nil {
		return res, err
	} else if active != nil {
		return res, breach.Errorf(breach.ErrConflict, "send %d is %s: the purge waits for it to end", active.Seq, active.State)
	}

	var keyID *string
	var destroyedAt *time.Time
	err = t.tx.QueryRow(ctx, `SELECT key_id, destroyed_at FROM incident_keys WHERE incident_id = $1 FOR UPDATE`, incidentID).
		Scan(&keyID, &destroyedAt)
	hasKey := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, fmt.Errorf("read the incident key: %w", err)
	}
	if err := t.tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM people WHERE incident_id = $1`, incidentID).Scan(&res.People); err != nil {
		return res, fmt.Errorf("count people: %w", err)
	}
	// Empty the sealed columns. The rows stay: their IDs are what the ledger,
	// the account resets and the counts refer to.
	err = t.tx.QueryRow(ctx, `
		WITH purged AS (
			UPDATE people SET contact = NULL, has_account = false, email = NULL, full_name = NULL, phone = NULL, account_id = NULL
			WHERE incident_id = $1
			  AND (contact IS NOT NULL OR email IS NOT NULL OR full_name IS NOT NULL OR phone IS NOT NULL OR account_id IS NOT NULL)
			RETURNING key_id)
		SELECT count(*), count(*) FILTER (WHERE key_id = $2) FROM purged`, incidentID, vault.IncidentKeyID).
		Scan(&res.Purged, &res.Shredded)
	if err != nil {
		return res, fmt.Errorf("empty the sealed columns: %w", err)
	}
	res.RingSealed = res.Purged - res.Shredded

	if hasKey && destroyedAt != nil {
		if res.Purged == 0 {
			res.Already, res.Key, res.PurgedAt = true, "destroyed", destroyedAt.UTC()
			if keyID != nil {
				res.WrappedUnder = *keyID
			}
			if res.Deliveries, err = deliveryCounts(ctx, t.tx, incidentID); err != nil {
				return res, fmt.Errorf("delivery counts: %w", err)
			}
			return res, nil
		}
		// Rows written after the key's destruction cannot exist (nothing is
		// sealed for a purged incident); if some were, they are emptied now
		// and audited below.
	}

	now := t.Now()
	res.PurgedAt = now.UTC()
	res.Key = "none"
	switch {
	case hasKey && destroyedAt == nil:
		res.Key = "destroyed"
		if keyID != nil {
			res.WrappedUnder = *keyID
		}
		if _, err := t.tx.Exec(ctx, `UPDATE incident_keys SET wrapped = NULL, destroyed_at = $2, destroyed_by = $3
			WHERE incident_id = $1`, incidentID, now, actor.UserID); err != nil {
			return res, fmt.Errorf("destroy the incident key: %w", err)
		}
	case hasKey:
		res.Key = "destroyed"
	default:
		// No key was ever made (no import since migration 011): a tombstone
		// keeps one from being made later, and dates the purge.
		if _, err := t.tx.Exec(ctx, `INSERT INTO incident_keys (incident_id, destroyed_at, destroyed_by) VALUES ($1, $2, $3)`,
			incidentID, now, actor.UserID); err != nil {
			return res, fmt.Errorf("record the purge: %w", mapErr(err))
		}
	}
	if res.Deliveries, err = deliveryCounts(ctx, t.tx, incidentID); err != nil {
		return res, fmt.Errorf("delivery counts: %w", err)
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "people.purged", IncidentID: incidentID, After: res})
	return res, err
}

// PurgeState is what the register and the incident page show of a purge.
type PurgeState struct {
	// DueAt is when the purge is due (closed_at + retention); nil before the
	// incident is closed, or for incidents closed before purges existed.
	DueAt *time.Time `json:"due_at,omitempty"`
	// PurgedAt and PurgedBy say when the contact data was destroyed.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
	PurgedBy string     `json:"purged_by,omitempty"`
}

// Purge reads the purge state of an incident.
func (s *Store) Purge(ctx context.Context, incidentID string) (PurgeState, error) {
	var p PurgeState
	if !validID(incidentID) {
		return p, fmt.Errorf("store: purge state: %w", notFound("incident"))
	}
	var by *string
	err := s.Pool.QueryRow(ctx, `SELECT i.purge_after, k.destroyed_at, k.destroyed_by
		FROM incidents i LEFT JOIN incident_keys k ON k.incident_id = i.id WHERE i.id = $1`, incidentID).
		Scan(&p.DueAt, &p.PurgedAt, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("store: purge state: %w", notFound("incident"))
	}
	if err != nil {
		return p, fmt.Errorf("store: purge state: %w", err)
	}
	p.DueAt, p.PurgedAt, p.PurgedBy = utcPtr(p.DueAt), utcPtr(p.PurgedAt), deref(by)
	return p, nil
}

// refuseClosed answers a conflict when the incident is closed: closing
// freezes what the incident decided and filed (Art. 33(5)). It reads without
// locking (callers lock their own rows first, and taking the incident's lock
// after them could deadlock with writers that lock it first); a closure
// committed in between is caught by the triggers of migration 011 for the
// register's tables, and by the workflow, which refuses every update once
// closed, for the others.
func refuseClosed(ctx context.Context, q querier, incidentID string) error {
	var state string
	err := q.QueryRow(ctx, `SELECT state FROM incidents WHERE id = $1`, incidentID).Scan(&state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return notFound("incident")
	case err != nil:
		return err
	case state == string(breach.StateClosed):
		return closedConflict()
	}
	return nil
}
