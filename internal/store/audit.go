package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// The audit log is the trace auditors rely on (Art. 33(5) documentation, and
// proof that it was not rewritten afterwards). Each row carries the hash of the
// row before it; its own hash covers a canonical encoding of all its fields and
// that previous hash, so changing, removing or inserting a row breaks the chain
// at that row (or, when its hash was recomputed too, at the next one).
//
// Rows never hold contact details of affected people: before/after carry the
// fields a change touched, IDs and counts.

// AuditEntry is what a change appends to the audit log.
type AuditEntry struct {
	Actor      breach.Actor
	Action     string
	IncidentID string // "" when the change is not about one incident
	WorkflowID string // defaults to the transaction's Op
	RunID      string // defaults to the transaction's Op
	Before     any    // JSON-encoded; nil for none
	After      any    // JSON-encoded; nil for none
}

// AuditRow is one row of the audit log.
type AuditRow struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	ActorID    string          `json:"actor_id"`
	ActorRole  string          `json:"actor_role"`
	Action     string          `json:"action"`
	IncidentID string          `json:"incident_id,omitempty"`
	WorkflowID string          `json:"workflow_id,omitempty"`
	RunID      string          `json:"run_id,omitempty"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	PrevHash   string          `json:"prev_hash"` // hex
	Hash       string          `json:"hash"`      // hex
}

// AuditVerification is the result of recomputing the chain.
type AuditVerification struct {
	Rows       int64  `json:"rows"`
	OK         bool   `json:"ok"`
	FirstBadID int64  `json:"first_bad_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// HeadID and HeadHash name the last row of the verified chain. The chain
	// alone cannot show that rows were removed at its end: an auditor keeps the
	// head hash outside the database and later verifies with it as an anchor.
	HeadID   int64  `json:"head_id,omitempty"`
	HeadHash string `json:"head_hash,omitempty"` // hex
}

// genesis is the previous hash of the first row.
var genesis = make([]byte, sha256.Size)

// auditHashVersion is mixed into every hash, so that a future change of the
// canonical form can be told apart.
const auditHashVersion = "breach-audit-v1"

// Audit appends a row to the audit log within the transaction.
func (t *Tx) Audit(ctx context.Context, e AuditEntry) (int64, error) {
	if e.WorkflowID == "" {
		e.WorkflowID = t.op.WorkflowID
	}
	if e.RunID == "" {
		e.RunID = t.op.RunID
	}
	return appendAudit(ctx, t.tx, e)
}

func encodeJSON(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return nil, nil
		}
		return raw, nil
	}
	return json.Marshal(v)
}

func appendAudit(ctx context.Context, tx pgx.Tx, e AuditEntry) (int64, error) {
	if e.Action == "" || e.Actor.UserID == "" {
		return 0, errors.New("store: audit: action and actor are required")
	}
	if e.IncidentID != "" && !validID(e.IncidentID) {
		return 0, breach.Errorf(breach.ErrNotFound, "incident not found")
	}
	before, err := encodeJSON(e.Before)
	if err != nil {
		return 0, fmt.Errorf("store: audit: encode before: %w", err)
	}
	after, err := encodeJSON(e.After)
	if err != nil {
		return 0, fmt.Errorf("store: audit: encode after: %w", err)
	}

	// One appender at a time, until this transaction ends.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassBreach, lockAuditChain); err != nil {
		return 0, fmt.Errorf("store: audit: lock: %w", err)
	}
	prev := genesis
	err = tx.QueryRow(ctx, `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: audit: read chain head: %w", err)
	}

	// Let the database assign the id and the time and normalise the JSON, so
	// that the hash covers exactly what a verifier will read back.
	row := AuditRow{
		ActorID: e.Actor.UserID, ActorRole: string(e.Actor.Role), Action: e.Action,
		IncidentID: e.IncidentID, WorkflowID: e.WorkflowID, RunID: e.RunID,
	}
	err = tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('audit_log', 'id')), clock_timestamp(), $1::jsonb, $2::jsonb`,
		nullJSON(before), nullJSON(after)).Scan(&row.ID, &row.At, &row.Before, &row.After)
	if err != nil {
		return 0, fmt.Errorf("store: audit: %w", err)
	}
	hash, err := auditHash(row, prev)
	if err != nil {
		return 0, fmt.Errorf("store: audit: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (id, at, actor_id, actor_role, action, incident_id, workflow_id, run_id, before, after, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		row.ID, row.At, row.ActorID, row.ActorRole, row.Action, nullString(row.IncidentID), row.WorkflowID, row.RunID,
		nullJSON(row.Before), nullJSON(row.After), prev, hash)
	if err != nil {
		return 0, fmt.Errorf("store: audit: append: %w", err)
	}
	return row.ID, nil
}

// nullJSON passes nil for absent JSON so that the column is SQL NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// auditHash is sha256 over the canonical form of the row and the previous hash.
func auditHash(r AuditRow, prev []byte) ([]byte, error) {
	before, err := canonicalJSON(r.Before)
	if err != nil {
		return nil, fmt.Errorf("canonical before: %w", err)
	}
	after, err := canonicalJSON(r.After)
	if err != nil {
		return nil, fmt.Errorf("canonical after: %w", err)
	}
	// Postgres keeps microseconds; the hash sees the time as stored.
	at := r.At.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
	canon, err := json.Marshal([]any{
		auditHashVersion, r.ID, at, r.ActorID, r.ActorRole, r.Action,
		r.IncidentID, r.WorkflowID, r.RunID, before, after, hex.EncodeToString(prev),
	})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	return sum[:], nil
}

// canonicalJSON re-encodes a JSON document with sorted object keys and numbers
// written as they were read: jsonb reorders keys, so the stored text is not
// what was sent, but this form is the same on both sides of the round trip.
func canonicalJSON(b []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := json.Marshal(v) // maps are written with sorted keys
	if err != nil {
		return nil, err
	}
	return out, nil
}

const auditColumns = `id, at, actor_id, actor_role, action, coalesce(incident_id::text, ''), workflow_id, run_id, before, after, prev_hash, hash`

func scanAuditRow(rows pgx.Rows) (AuditRow, []byte, []byte, error) {
	var r AuditRow
	var prev, hash []byte
	err := rows.Scan(&r.ID, &r.At, &r.ActorID, &r.ActorRole, &r.Action, &r.IncidentID, &r.WorkflowID, &r.RunID,
		&r.Before, &r.After, &prev, &hash)
	r.At = r.At.UTC()
	r.PrevHash, r.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
	return r, prev, hash, err
}

// AuditLog lists the audit rows of one incident, or all rows when incidentID
// is empty, oldest first.
func (s *Store) AuditLog(ctx context.Context, incidentID string) ([]AuditRow, error) {
	var rows pgx.Rows
	var err error
	if incidentID == "" {
		rows, err = s.Pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY id`)
	} else {
		if !validID(incidentID) {
			return nil, fmt.Errorf("store: audit log: %w", notFound("incident"))
		}
		rows, err = s.Pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE incident_id = $1 ORDER BY id`, incidentID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditRow{}
	for rows.Next() {
		r, _, _, err := scanAuditRow(rows)
		if err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return out, nil
}

// VerifyAudit recomputes the whole chain, streaming the rows in one snapshot,
// and names the first row whose hash or link does not match.
func (s *Store) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	return s.VerifyAuditAnchor(ctx, nil)
}

// VerifyAuditAnchor is VerifyAudit that also requires the row whose hash is
// anchor (a head hash kept outside the database by an auditor) to be in the
// verified chain: rows removed at the end, up to and including the anchored
// one, are then detected too. A nil anchor checks the chain alone.
func (s *Store) VerifyAuditAnchor(ctx context.Context, anchor []byte) (AuditVerification, error) {
	var v AuditVerification
	anchorFound := anchor == nil
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return v, fmt.Errorf("store: verify audit: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY id`)
	if err != nil {
		return v, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	expectPrev := genesis
	for rows.Next() {
		r, prev, hash, err := scanAuditRow(rows)
		if err != nil {
			return v, fmt.Errorf("store: verify audit: %w", err)
		}
		v.Rows++
		if v.FirstBadID != 0 {
			continue // keep counting
		}
		if !bytes.Equal(prev, expectPrev) {
			v.FirstBadID = r.ID
			if v.Rows == 1 {
				v.Reason = "first row does not start the chain: rows before it were removed, or its previous hash was changed"
			} else {
				v.Reason = "previous hash does not match the row before it: a row was removed or inserted, or the row before was rewritten with a recomputed hash"
			}
			continue
		}
		want, err := auditHash(r, prev)
		if err != nil {
			v.FirstBadID = r.ID
			v.Reason = "row cannot be encoded: " + err.Error()
			continue
		}
		if !bytes.Equal(hash, want) {
			v.FirstBadID = r.ID
			v.Reason = "hash does not match the row's content: the row was changed after it was written"
			continue
		}
		expectPrev = hash
		v.HeadID, v.HeadHash = r.ID, r.Hash
		if !anchorFound && bytes.Equal(hash, anchor) {
			anchorFound = true
		}
	}
	if err := rows.Err(); err != nil {
		return v, fmt.Errorf("store: verify audit: %w", err)
	}
	if v.FirstBadID == 0 && !anchorFound {
		v.FirstBadID = v.HeadID + 1
		v.Reason = "the anchored row is not in the chain: rows were removed at its end, or the chain was rewritten"
	}
	v.OK = v.FirstBadID == 0
	return v, nil
}

// RecordRejection audits an update refused for lack of role or by a rule
// ("update.rejected"), with the action attempted and the reason.
func (s *Store) RecordRejection(ctx context.Context, incidentID string, actor breach.Actor, action, reason string) error {
	if incidentID != "" && !validID(incidentID) {
		incidentID = "" // an unknown id is still worth recording, without the link
	}
	if actor.UserID == "" {
		actor.UserID = "anonymous"
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Audit(ctx, AuditEntry{
			Actor: actor, Action: "update.rejected", IncidentID: incidentID,
			After: map[string]string{"action": action, "reason": reason},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record rejection: %w", err)
	}
	return nil
}

// ParseAuditHash reads a row hash (64 hexadecimal digits) given as an anchor;
// field names the input in the error. Empty means no anchor.
func ParseAuditHash(field, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, breach.Invalid(field, "must be a head hash: 64 hexadecimal digits")
	}
	return b, nil
}
