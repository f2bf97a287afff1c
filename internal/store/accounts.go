package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/vault"
)

// The credential track (DESIGN.md track 4): the incident's track (its
// connector configuration, state and last error), one account_resets row per
// person with an account, claimed by batches like the delivery ledger
// (FOR UPDATE SKIP LOCKED, under a lease), the counters by state kept in the
// statement of every change, and the completions reported by the
// organisation, matched through a blind index of the account ID.
//
// People are read here through this file's own queries (people.go belongs to
// the import): only id, email_index, key_id and the account ID, opened from
// the sealed contact record (migration 014; the rest of the record is
// dropped unread) or, for rows loaded before it, from the sealed account_id.

// CredentialTrack is an incident's credential track.
type CredentialTrack struct {
	IncidentID   string            `json:"incident_id"`
	State        breach.TrackState `json:"state"`
	Config       json.RawMessage   `json:"config"`  // idp.Config: secrets referenced, never held
	Options      json.RawMessage   `json:"options"` // the workflow's tuning, as started
	Round        int               `json:"round"`
	Accounts     int64             `json:"accounts"`
	StartedBy    string            `json:"started_by"`
	StartedAt    time.Time         `json:"started_at"`
	ResetDoneAt  *time.Time        `json:"reset_done_at,omitempty"`
	PausedReason string            `json:"paused_reason,omitempty"`
	LastError    string            `json:"last_error,omitempty"`
	LastErrorAt  *time.Time        `json:"last_error_at,omitempty"`
	PolledAt     *time.Time        `json:"polled_at,omitempty"`
	PollError    string            `json:"poll_error,omitempty"`
	EndedAt      *time.Time        `json:"ended_at,omitempty"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

const trackColumns = `incident_id::text, state, config, options, round, accounts, started_by, started_at, reset_done_at,
	paused_reason, last_error, last_error_at, polled_at, poll_error, ended_at, updated_at`

func scanTrack(row pgx.Row) (CredentialTrack, error) {
	var t CredentialTrack
	var state string
	err := row.Scan(&t.IncidentID, &state, &t.Config, &t.Options, &t.Round, &t.Accounts, &t.StartedBy, &t.StartedAt,
		&t.ResetDoneAt, &t.PausedReason, &t.LastError, &t.LastErrorAt, &t.PolledAt, &t.PollError, &t.EndedAt, &t.UpdatedAt)
	t.State = breach.TrackState(state)
	t.StartedAt, t.UpdatedAt = t.StartedAt.UTC(), t.UpdatedAt.UTC()
	t.ResetDoneAt, t.LastErrorAt, t.PolledAt, t.EndedAt = utcPtr(t.ResetDoneAt), utcPtr(t.LastErrorAt), utcPtr(t.PolledAt), utcPtr(t.EndedAt)
	return t, err
}

func getTrack(ctx context.Context, q querier, incidentID string, lock bool) (CredentialTrack, error) {
	if !validID(incidentID) {
		return CredentialTrack{}, notFound("incident")
	}
	sql := `SELECT ` + trackColumns + ` FROM credential_tracks WHERE incident_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	t, err := scanTrack(q.QueryRow(ctx, sql, incidentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, breach.Errorf(breach.ErrNotFound, "the credential track of incident %s was not started", incidentID)
	}
	return t, err
}

// CredentialTrack reads the incident's track; ErrNotFound when the reset was
// never started.
func (s *Store) CredentialTrack(ctx context.Context, incidentID string) (CredentialTrack, error) {
	t, err := getTrack(ctx, s.Pool, incidentID, false)
	if err != nil {
		return t, fmt.Errorf("store: credential track: %w", err)
	}
	return t, nil
}

// TrackState reads the state of the incident's track alone (the batches read
// it between chunks, to stop when the DPO paused the track).
func (s *Store) TrackState(ctx context.Context, incidentID string) (breach.TrackState, error) {
	var state string
	err := s.Pool.QueryRow(ctx, `SELECT state FROM credential_tracks WHERE incident_id = $1`, incidentID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return breach.TrackIdle, nil
	}
	if err != nil {
		return "", fmt.Errorf("store: track state: %w", err)
	}
	return breach.TrackState(state), nil
}

// AccountRange is the people of an incident who have an account: how many,
// and the lowest and highest person IDs among them.
type AccountRange struct {
	Accounts  int64 `json:"accounts"`
	MinPerson int64 `json:"min_person"`
	MaxPerson int64 `json:"max_person"`
}

func accountRange(ctx context.Context, q querier, incidentID string) (AccountRange, error) {
	var r AccountRange
	err := q.QueryRow(ctx, `SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM people
		WHERE incident_id = $1 AND `+withAccount, incidentID).Scan(&r.Accounts, &r.MinPerson, &r.MaxPerson)
	return r, err
}

// StartTrackInput starts an incident's credential track.
type StartTrackInput struct {
	IncidentID string
	Config     json.RawMessage // a validated idp.Config
	Options    json.RawMessage
}

// StartCredentialTrack records the start of the reset by the DPO, with the
// connector's configuration, and audits "credentials.started". The reset
// needs no approval and can start before the letters go out: forcing the
// reset is a mitigation (Art. 33(3)(d)), not a communication. It refuses an
// incident whose track was started already, or that has no account.
func (t *Tx) StartCredentialTrack(ctx context.Context, actor breach.Actor, in StartTrackInput) (CredentialTrack, AccountRange, error) {
	var tr CredentialTrack
	inc, err := t.Incident(ctx, in.IncidentID)
	if err != nil {
		return tr, AccountRange{}, err
	}
	if inc.State == breach.StateClosed {
		return tr, AccountRange{}, breach.Errorf(breach.ErrConflict, "the incident is closed")
	}
	if len(in.Config) == 0 || !json.Valid(in.Config) {
		return tr, AccountRange{}, breach.Invalid("config", "a connector configuration is required")
	}
	if len(in.Options) == 0 {
		in.Options = json.RawMessage(`{}`)
	}
	rng, err := accountRange(ctx, t.tx, in.IncidentID)
	if err != nil {
		return tr, rng, fmt.Errorf("store: start credential track: %w", err)
	}
	if rng.Accounts == 0 {
		return tr, rng, breach.Errorf(breach.ErrConflict, "no person of the incident has an account_id: import them with one first")
	}
	tr, err = scanTrack(t.tx.QueryRow(ctx, `INSERT INTO credential_tracks (incident_id, state, config, options, accounts, started_by, started_at)
		VALUES ($1, 'running', $2, $3, $4, $5, $6) ON CONFLICT (incident_id) DO NOTHING
		RETURNING `+trackColumns, in.IncidentID, in.Config, in.Options, rng.Accounts, actor.UserID, t.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return tr, rng, breach.Errorf(breach.ErrConflict, "the reset of incident %s was started already", in.IncidentID)
	}
	if err != nil {
		return tr, rng, fmt.Errorf("store: start credential track: %w", err)
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "credentials.started", IncidentID: in.IncidentID,
		After: map[string]any{"accounts": rng.Accounts, "connector": connectorKind(in.Config), "options": in.Options}})
	return tr, rng, err
}

// connectorKind is the kind of a stored configuration, for the audit rows
// (the configuration itself holds URLs and statements: it stays in its table).
func connectorKind(cfg json.RawMessage) string {
	var c struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(cfg, &c)
	return c.Kind
}

// TrackChange moves an incident's track to another state.
type TrackChange struct {
	IncidentID string
	State      breach.TrackState
	// Reason says why (a pause, a resume); Error is the connector's error
	// that paused the track (stored and shown, cleared by a resume).
	Reason string
	Error  string
	// Config replaces the connector's configuration (a resume after a fix).
	Config json.RawMessage
}

// allowed moves of a track; a move to the state it is in changes nothing
// (but a new error is kept).
var trackMoves = map[breach.TrackState][]breach.TrackState{
	breach.TrackRunning: {breach.TrackPaused, breach.TrackPolling, breach.TrackEnded},
	breach.TrackPaused:  {breach.TrackRunning, breach.TrackEnded},
	breach.TrackPolling: {breach.TrackEnded},
}

// SetTrackState moves the track and audits the move ("credentials.paused",
// "credentials.resumed", "credentials.reset_done", "credentials.ended"). A
// resume starts a new round (partitions of the workflow run again over the
// accounts still pending) and clears the last error.
func (t *Tx) SetTrackState(ctx context.Context, actor breach.Actor, ch TrackChange) (CredentialTrack, error) {
	tr, err := getTrack(ctx, t.tx, ch.IncidentID, true)
	if err != nil {
		return tr, err
	}
	if tr.State == ch.State {
		if ch.Error != "" && ch.Error != tr.LastError {
			// Another partition met the same misconfiguration, or a new one.
			return scanTrack(t.tx.QueryRow(ctx, `UPDATE credential_tracks SET last_error = $2, last_error_at = now(), updated_at = now()
				WHERE incident_id = $1 RETURNING `+trackColumns, ch.IncidentID, truncate(ch.Error, 2000)))
		}
		return tr, nil
	}
	ok := false
	for _, to := range trackMoves[tr.State] {
		ok = ok || to == ch.State
	}
	if !ok {
		return tr, breach.Errorf(breach.ErrConflict, "the credential track is %s: it cannot become %s", tr.State, ch.State)
	}
	if len(ch.Config) > 0 && !json.Valid(ch.Config) {
		return tr, breach.Invalid("config", "not a JSON configuration")
	}
	before := map[string]any{"state": tr.State, "round": tr.Round}
	next, err := scanTrack(t.tx.QueryRow(ctx, `UPDATE credential_tracks SET
			state = $2,
			round = round + CASE WHEN $2 = 'running' THEN 1 ELSE 0 END,
			config = coalesce($3::jsonb, config),
			paused_reason = CASE WHEN $2 = 'paused' THEN $4 ELSE '' END,
			last_error = CASE WHEN $2 = 'running' THEN '' WHEN $5 <> '' THEN $5 ELSE last_error END,
			last_error_at = CASE WHEN $2 = 'running' THEN NULL WHEN $5 <> '' THEN now() ELSE last_error_at END,
			reset_done_at = CASE WHEN $2 = 'polling' THEN now() ELSE reset_done_at END,
			ended_at = CASE WHEN $2 = 'ended' THEN now() ELSE ended_at END,
			updated_at = now()
		WHERE incident_id = $1 RETURNING `+trackColumns,
		ch.IncidentID, string(ch.State), rawOrNil(ch.Config), truncate(ch.Reason, 2000), truncate(ch.Error, 2000)))
	if err != nil {
		return tr, fmt.Errorf("store: set track state: %w", mapErr(err))
	}
	action := map[breach.TrackState]string{
		breach.TrackPaused: "credentials.paused", breach.TrackRunning: "credentials.resumed",
		breach.TrackPolling: "credentials.reset_done", breach.TrackEnded: "credentials.ended",
	}[ch.State]
	after := map[string]any{"state": next.State, "round": next.Round}
	if ch.Reason != "" {
		after["reason"] = ch.Reason
	}
	if ch.Error != "" {
		after["error"] = next.LastError
	}
	if len(ch.Config) > 0 {
		after["connector"] = connectorKind(ch.Config)
		after["config_changed"] = true
	}
	if _, err := t.Audit(ctx, AuditEntry{Actor: actor, Action: action, IncidentID: ch.IncidentID, Before: before, After: after}); err != nil {
		return next, err
	}
	return next, nil
}

func rawOrNil(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// RecordPoll records the end of a status poll: when, and the connector's
// error if it could not answer (shown on the incident, cleared by the next
// poll that succeeds).
func (s *Store) RecordPoll(ctx context.Context, incidentID string, pollErr string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE credential_tracks SET polled_at = now(), poll_error = $2, updated_at = now()
		WHERE incident_id = $1`, incidentID, truncate(pollErr, 2000))
	if err != nil {
		return fmt.Errorf("store: record poll: %w", err)
	}
	return nil
}

// ---- reset rows ------------------------------------------------------------

// AccountIndex is the blind index of an account ID under the vault's current
// key: HMAC-SHA256 under the index key, over a prefix that no normalised
// e-mail address can start with, so that an account ID that is also an
// e-mail address gets an index of its own, unrelated to email_index.
func AccountIndex(v *vault.Vault, accountID string) []byte {
	return v.Index(accountIndexInput(accountID))
}

func accountIndexInput(accountID string) string { return "\x00account_id\x00" + accountID }

// accountIndexes is the account ID's index under every key of the ring: rows
// made before a key rotation were indexed under an older key.
func accountIndexes(v *vault.Vault, accountID string) [][]byte {
	ks := v.Indexes(accountIndexInput(accountID))
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = k.Index
	}
	return out
}

// counterSQL adds the deltas of the rows of the CTE upd (old_state,
// new_state, and newly_completed) to the counters of shard shardParam.
func resetCounterCTE(shardParam string) string {
	var b strings.Builder
	b.WriteString(`cnt AS (
		INSERT INTO account_reset_counts AS d (incident_id, shard, pending, running, done, failed, completed)
		SELECT $1, ` + shardParam)
	for _, s := range breach.ResetStates {
		fmt.Fprintf(&b, `, count(*) FILTER (WHERE new_state = '%[1]s') - count(*) FILTER (WHERE old_state = '%[1]s')`, s)
	}
	b.WriteString(`, count(*) FILTER (WHERE newly_completed) FROM upd HAVING count(*) > 0
		ON CONFLICT (incident_id, shard) DO UPDATE SET `)
	for _, s := range breach.ResetStates {
		fmt.Fprintf(&b, `%[1]s = d.%[1]s + EXCLUDED.%[1]s, `, s)
	}
	b.WriteString(`completed = d.completed + EXCLUDED.completed, updated_at = now())`)
	return b.String()
}

// CreateResetRows makes the pending reset rows of the people with IDs
// from..to who have an account, in one statement: it opens each sealed
// account ID in memory only to compute its blind index. Rows that exist are
// left alone (a retried chunk adds nothing). It returns the rows made.
// Callers run it through Do, one chunk of IDs per operation key.
func (t *Tx) CreateResetRows(ctx context.Context, v *vault.Vault, incidentID string, from, to int64, shard int) (int64, error) {
	if v == nil {
		return 0, errors.New("store: create reset rows: no data key configured (BREACH_DATA_KEY)")
	}
	if !validID(incidentID) {
		return 0, fmt.Errorf("store: create reset rows: %w", notFound("incident"))
	}
	// The people's account IDs are sealed under the incident's own key, and
	// the rows' blind index is keyed from it too (shredded with it).
	v, err := incidentVault(ctx, t.tx, v, incidentID, false)
	if err != nil {
		return 0, fmt.Errorf("store: create reset rows: incident key: %w", err)
	}
	incident := uuid.MustParse(incidentID)
	rows, err := t.tx.Query(ctx, `SELECT `+accountColumns+` FROM people
		WHERE incident_id = $1 AND id BETWEEN $2 AND $3 AND `+withAccount+` ORDER BY id`, incidentID, from, to)
	if err != nil {
		return 0, fmt.Errorf("store: create reset rows: %w", err)
	}
	o := v.Opener()
	var ids []int64
	var indexes [][]byte
	for rows.Next() {
		id, account, err := scanAccount(rows, o, incident)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: create reset rows: %w", err)
		}
		ids = append(ids, id)
		indexes = append(indexes, AccountIndex(v, account))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: create reset rows: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err = t.tx.QueryRow(ctx, `WITH upd AS (
			INSERT INTO account_resets (incident_id, person_id, account_index)
			SELECT $1, u.id, u.idx FROM unnest($2::bigint[], $3::bytea[]) AS u(id, idx)
			ON CONFLICT (incident_id, person_id) DO NOTHING
			RETURNING person_id, NULL::text AS old_state, state AS new_state, false AS newly_completed
		), `+resetCounterCTE("$4")+`
		SELECT count(*) FROM upd`, incidentID, ids, indexes, shard).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: create reset rows: %w", err)
	}
	return n, nil
}

// ResetScope names the reset rows one partition works on: the people with
// IDs From..To of the incident; Shard is its counters' row.
type ResetScope struct {
	IncidentID string
	From, To   int64
	Shard      int
}

func (s ResetScope) check() error {
	if !validID(s.IncidentID) {
		return notFound("incident")
	}
	if s.From > s.To {
		return breach.Invalid("range", "from is after to")
	}
	return nil
}

// ResetClaimSpec asks for rows to reset.
type ResetClaimSpec struct {
	ResetScope
	After  int64 // only people with IDs >= After (the batch's cursor)
	Limit  int
	Lease  time.Duration
	Worker string
	Token  int64 // the batch's claim token (NewClaimToken)
}

// ResetClaim is what a batch holds.
type ResetClaim struct {
	Until time.Time
	Rows  []ResetRow
}

// ResetRow is one claimed account.
type ResetRow struct {
	PersonID int64
	Attempt  int // this attempt's number (1 for the first)
}

var resetClaimSQL = `
	WITH c AS (
		SELECT person_id, state FROM account_resets
		WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 AND state = 'pending'
		  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
		ORDER BY person_id
		LIMIT $4
		FOR UPDATE SKIP LOCKED
	), upd AS (
		UPDATE account_resets r SET state = 'running', attempt = r.attempt + 1, lease_until = now() + $5::interval,
			claim = $6, worker = $7, next_attempt_at = NULL, updated_at = now()
		FROM c
		WHERE r.incident_id = $1 AND r.person_id = c.person_id
		RETURNING r.person_id, c.state AS old_state, r.state AS new_state, false AS newly_completed, r.attempt, r.lease_until
	), ` + resetCounterCTE("$8") + `
	SELECT person_id, attempt, lease_until FROM upd ORDER BY person_id`

// ClaimResets claims up to spec.Limit pending rows whose retry time has come,
// lowest person IDs first from spec.After. Rows another batch holds are
// skipped (SKIP LOCKED), never waited for or taken twice.
func (s *Store) ClaimResets(ctx context.Context, spec ResetClaimSpec) (ResetClaim, error) {
	var cl ResetClaim
	if err := spec.check(); err != nil {
		return cl, fmt.Errorf("store: claim resets: %w", err)
	}
	if spec.Limit <= 0 || spec.Lease <= 0 || spec.Token == 0 {
		return cl, fmt.Errorf("store: claim resets: %w", breach.Invalid("limit", "limit, lease and token are required"))
	}
	from := max(spec.From, spec.After)
	if from > spec.To {
		return cl, nil
	}
	rows, err := s.Pool.Query(ctx, resetClaimSQL, spec.IncidentID, from, spec.To, spec.Limit, spec.Lease, spec.Token, spec.Worker, spec.Shard)
	if err != nil {
		return cl, fmt.Errorf("store: claim resets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ResetRow
		if err := rows.Scan(&r.PersonID, &r.Attempt, &cl.Until); err != nil {
			return cl, fmt.Errorf("store: claim resets: %w", err)
		}
		cl.Rows = append(cl.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return cl, fmt.Errorf("store: claim resets: %w", err)
	}
	return cl, nil
}

// RenewResetLease extends the lease of the rows the claim still holds among
// the people IDs from..to and returns the new end of the lease.
func (s *Store) RenewResetLease(ctx context.Context, incidentID string, token int64, from, to int64, lease time.Duration) (time.Time, error) {
	var until time.Time
	err := s.Pool.QueryRow(ctx, `WITH upd AS (
			UPDATE account_resets SET lease_until = now() + $5::interval
			WHERE incident_id = $1 AND person_id BETWEEN $3 AND $4 AND claim = $2 AND state = 'running'
			RETURNING lease_until)
		SELECT coalesce(max(lease_until), now()) FROM upd`, incidentID, token, from, to, lease).Scan(&until)
	if err != nil {
		return until, fmt.Errorf("store: renew reset lease: %w", err)
	}
	return until, nil
}

// ResetAccounts opens the account IDs of the given people of the incident,
// in memory: what a batch sends to the identity provider. People without an
// account (or whose data was purged) are absent from the map.
func (s *Store) ResetAccounts(ctx context.Context, v *vault.Vault, incidentID string, personIDs []int64) (map[int64]string, error) {
	if v == nil {
		return nil, errors.New("store: reset accounts: no data key configured (BREACH_DATA_KEY)")
	}
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: reset accounts: %w", notFound("incident"))
	}
	v, err := s.IncidentVault(ctx, v, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: reset accounts: %w", err)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+accountColumns+` FROM people
		WHERE incident_id = $1 AND id = ANY($2::bigint[]) AND `+withAccount, incidentID, personIDs)
	if err != nil {
		return nil, fmt.Errorf("store: reset accounts: %w", err)
	}
	defer rows.Close()
	incident := uuid.MustParse(incidentID)
	o := v.Opener()
	out := make(map[int64]string, len(personIDs))
	for rows.Next() {
		id, account, err := scanAccount(rows, o, incident)
		if err != nil {
			return nil, fmt.Errorf("store: reset accounts: %w", err)
		}
		out[id] = account
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reset accounts: %w", err)
	}
	return out, nil
}

// accountColumns are what scanAccount reads of a person.
const accountColumns = `id, email_index, key_id, contact, account_id`

// withAccount holds for a person who has an account: has_account with a
// contact record, account_id for a row loaded before it (migration 014).
const withAccount = `(has_account OR account_id IS NOT NULL)`

// scanAccount reads a person's ID and opens the account ID, from the
// contact record or the account_id column of an older row. The values live
// in memory only: never log them.
func scanAccount(rows pgx.Rows, o *vault.Opener, incident uuid.UUID) (int64, string, error) {
	var id int64
	var index, contact, sealed []byte
	var keyID string
	if err := rows.Scan(&id, &index, &keyID, &contact, &sealed); err != nil {
		return 0, "", err
	}
	if contact != nil {
		c, err := o.OpenContact(keyID, incident, index, contact)
		if err != nil {
			return id, "", fmt.Errorf("person %d: %w", id, err)
		}
		if c.AccountID == "" {
			return id, "", fmt.Errorf("person %d: has_account without an account ID in the contact record", id)
		}
		return id, c.AccountID, nil
	}
	plain, err := o.Open(keyID, incident, index, vault.AccountID, sealed)
	if err != nil {
		return id, "", fmt.Errorf("person %d: %w", id, err)
	}
	return id, string(plain), nil
}

// ResetOutcome is what became of one claimed account.
type ResetOutcome struct {
	PersonID int64
	// State: done, failed (permanently, Reason says why), or pending (a
	// temporary refusal: tried again after RetryAfter).
	State breach.ResetState
	// Release gives back a row that was claimed but not tried (the batch
	// stopped): pending again, its attempt not counted.
	Release    bool
	RetryAfter time.Duration
	Reason     string // the provider's, never the account ID
}

var resetOutcomeSQL = `
	WITH u AS (
		SELECT * FROM unnest($3::bigint[], $4::text[], $5::boolean[], $6::float8[], $7::text[])
			AS u(person_id, state, release, retry_secs, reason)
	), c AS (
		SELECT o.person_id, o.state AS old_state, u.state AS new_state, u.release, u.retry_secs, u.reason
		FROM account_resets o JOIN u ON o.person_id = u.person_id
		WHERE o.incident_id = $1 AND o.claim = $2 AND o.state = 'running'
		FOR UPDATE OF o
	), upd AS (
		UPDATE account_resets r SET
			state = c.new_state,
			attempt = CASE WHEN c.release THEN greatest(r.attempt - 1, 0) ELSE r.attempt END,
			lease_until = NULL,
			next_attempt_at = CASE WHEN c.retry_secs > 0 THEN now() + c.retry_secs * interval '1 second' END,
			reason = CASE WHEN c.release THEN r.reason ELSE c.reason END,
			done_at = CASE WHEN c.new_state = 'done' THEN now() ELSE r.done_at END,
			updated_at = now()
		FROM c
		WHERE r.incident_id = $1 AND r.person_id = c.person_id
		RETURNING r.person_id, c.old_state, c.new_state, false AS newly_completed
	), ` + resetCounterCTE("$8") + `
	SELECT new_state, count(*) FROM upd GROUP BY new_state`

// RecordResetOutcomes records the outcomes of rows held by the claim token,
// in one statement, with audit (when given) in the same transaction. Rows
// the claim no longer holds (their lease ended and another batch took them)
// are left alone. It returns the counts of the rows changed, by new state.
func (s *Store) RecordResetOutcomes(ctx context.Context, incidentID string, token int64, shard int, outs []ResetOutcome, audit *AuditEntry) (breach.ResetCounts, error) {
	var res breach.ResetCounts
	if !validID(incidentID) {
		return res, fmt.Errorf("store: record reset outcomes: %w", notFound("incident"))
	}
	if len(outs) == 0 && audit == nil {
		return res, nil
	}
	n := len(outs)
	persons, states, release := make([]int64, n), make([]string, n), make([]bool, n)
	retry, reasons := make([]float64, n), make([]string, n)
	for i, o := range outs {
		if o.Release {
			o.State = breach.ResetPending
		}
		switch o.State {
		case breach.ResetDone, breach.ResetFailed, breach.ResetPending:
		default:
			return res, fmt.Errorf("store: record reset outcomes: %w", breach.Invalid("state", "an outcome cannot be %q", o.State))
		}
		persons[i], states[i], release[i] = o.PersonID, string(o.State), o.Release
		retry[i], reasons[i] = o.RetryAfter.Seconds(), truncate(o.Reason, 500)
	}
	run := func(ctx context.Context, q querier) error {
		if n == 0 {
			return nil
		}
		rows, err := q.Query(ctx, resetOutcomeSQL, incidentID, token, persons, states, release, retry, reasons, shard)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var c int64
			if err := rows.Scan(&state, &c); err != nil {
				return err
			}
			res.Add(breach.ResetState(state), c)
		}
		return rows.Err()
	}
	var err error
	if audit == nil {
		err = run(ctx, s.Pool)
	} else {
		err = s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
			if err := run(ctx, tx.tx); err != nil {
				return err
			}
			_, err := tx.Audit(ctx, *audit)
			return err
		})
	}
	if err != nil {
		return res, fmt.Errorf("store: record reset outcomes: %w", err)
	}
	return res, nil
}

// SweepExpiredResets puts the rows of the scope left running past their
// lease back to pending: the batch that held them died or lost touch. It may
// have reset them at the provider already; trying again is safe, as every
// action carries the account's idempotency key. It returns how many.
func (s *Store) SweepExpiredResets(ctx context.Context, scope ResetScope) (int64, error) {
	if err := scope.check(); err != nil {
		return 0, fmt.Errorf("store: sweep resets: %w", err)
	}
	var n int64
	err := s.Pool.QueryRow(ctx, `WITH c AS (
			SELECT person_id FROM account_resets
			WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 AND state = 'running' AND lease_until < now()
			FOR UPDATE SKIP LOCKED
		), upd AS (
			UPDATE account_resets r SET state = 'pending', lease_until = NULL, updated_at = now()
			FROM c WHERE r.incident_id = $1 AND r.person_id = c.person_id
			RETURNING r.person_id, 'running'::text AS old_state, r.state AS new_state, false AS newly_completed
		), `+resetCounterCTE("$4")+`
		SELECT count(*) FROM upd`, scope.IncidentID, scope.From, scope.To, scope.Shard).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: sweep resets: %w", err)
	}
	return n, nil
}

// ResetRangeStatus is what is left to do in a scope: rows pending or
// running, and when the earliest of them can be worked on (now, a retry
// time or the end of a lease; zero when none is open).
type ResetRangeStatus struct {
	Open   int64
	WakeAt time.Time
}

// ResetRangeStatus reads what is left in the scope. It scans the scope: a
// partition calls it once per pass, not per batch.
func (s *Store) ResetRangeStatus(ctx context.Context, scope ResetScope) (ResetRangeStatus, error) {
	var st ResetRangeStatus
	if err := scope.check(); err != nil {
		return st, fmt.Errorf("store: reset range status: %w", err)
	}
	var wake *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT count(*),
			min(CASE WHEN state = 'pending' THEN greatest(coalesce(next_attempt_at, now()), now()) ELSE lease_until END)
		FROM account_resets WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 AND state IN ('pending', 'running')`,
		scope.IncidentID, scope.From, scope.To).Scan(&st.Open, &wake)
	if err != nil {
		return st, fmt.Errorf("store: reset range status: %w", err)
	}
	if wake != nil {
		st.WakeAt = wake.UTC()
	}
	return st, nil
}

// ---- completions -------------------------------------------------------------

// Completion is one account reported as having completed its reset.
type Completion struct {
	AccountID   string    // as the organisation names it (normalised)
	CompletedAt time.Time // zero: now
}

// CompletionResult counts what a completion report did: accounts matched
// and recorded now, already recorded before (the first time is kept), and
// unknown to the incident (with their positions in the report).
type CompletionResult struct {
	Matched   int   `json:"matched"`
	Already   int   `json:"already"`
	Unknown   int   `json:"unknown"`
	UnknownAt []int `json:"unknown_at,omitempty"` // positions in the report (at most 100)
}

const maxUnknownPositions = 100

// completionSQL records completions by person, keeping the first time, and
// counts them per day (Europe/Paris) and in the counters, in one statement.
var completionSQL = `
	WITH u AS (
		SELECT DISTINCT ON (person_id) person_id, at FROM unnest($2::bigint[], $3::timestamptz[]) AS u(person_id, at)
		ORDER BY person_id, at
	), upd AS (
		UPDATE account_resets r SET completed_at = least(u.at, now()), updated_at = now()
		FROM u
		WHERE r.incident_id = $1 AND r.person_id = u.person_id AND r.completed_at IS NULL
		RETURNING r.person_id, r.state AS old_state, r.state AS new_state, true AS newly_completed, r.completed_at
	), days AS (
		INSERT INTO account_completions_daily AS d (incident_id, day, completed)
		SELECT $1, (completed_at AT TIME ZONE 'Europe/Paris')::date, count(*) FROM upd GROUP BY 2
		ON CONFLICT (incident_id, day) DO UPDATE SET completed = d.completed + EXCLUDED.completed
	), ` + resetCounterCTE("$4") + `
	SELECT count(*) FROM upd`

// completionShard is the counters' row of the completions reported by
// webhook (partitions use 0..n).
const completionShard = -1

// RecordCompletions matches a completion report against the incident's
// reset rows through the blind index of each account ID (under every key of
// the ring), records each matched person's completion once (the first
// report's time is kept), counts it per day, and audits the report
// ("accounts.completed", counts only) in the same transaction. Account IDs
// never leave this function: not in errors, not in the audit row.
func (s *Store) RecordCompletions(ctx context.Context, v *vault.Vault, actor breach.Actor, incidentID string, report []Completion) (CompletionResult, error) {
	var res CompletionResult
	if v == nil {
		return res, errors.New("store: record completions: no data key configured (BREACH_DATA_KEY)")
	}
	if !validID(incidentID) {
		return res, fmt.Errorf("store: record completions: %w", notFound("incident"))
	}
	v, err := s.IncidentVault(ctx, v, incidentID)
	if err != nil {
		return res, fmt.Errorf("store: record completions: %w", err)
	}
	now := s.now()
	// The index of every account ID under every key; each index points back
	// to the report's entries.
	var indexes [][]byte
	byIndex := map[string][]int{}
	for i, c := range report {
		for _, idx := range accountIndexes(v, c.AccountID) {
			k := string(idx)
			if _, ok := byIndex[k]; !ok {
				indexes = append(indexes, idx)
			}
			byIndex[k] = append(byIndex[k], i)
		}
	}
	err = s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := getIncident(ctx, tx.tx, incidentID, false); err != nil {
			return err
		}
		rows, err := tx.tx.Query(ctx, `SELECT person_id, account_index, completed_at IS NOT NULL FROM account_resets
			WHERE incident_id = $1 AND account_index = ANY($2::bytea[])`, incidentID, indexes)
		if err != nil {
			return err
		}
		found := make([]int, len(report)) // 0 unknown, 1 matched now, 2 already
		var persons []int64
		var times []time.Time
		for rows.Next() {
			var pid int64
			var idx []byte
			var done bool
			if err := rows.Scan(&pid, &idx, &done); err != nil {
				rows.Close()
				return err
			}
			for _, i := range byIndex[string(idx)] {
				if done {
					found[i] = max(found[i], 2)
					continue
				}
				if found[i] == 0 {
					found[i] = 1
				}
				at := report[i].CompletedAt
				if at.IsZero() || at.After(now) {
					at = now
				}
				persons, times = append(persons, pid), append(times, at)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(persons) > 0 {
			if err := tx.tx.QueryRow(ctx, completionSQL, incidentID, persons, times, completionShard).Scan(new(int64)); err != nil {
				return err
			}
		}
		for i, f := range found {
			switch f {
			case 0:
				res.Unknown++
				if len(res.UnknownAt) < maxUnknownPositions {
					res.UnknownAt = append(res.UnknownAt, i)
				}
			case 1:
				res.Matched++
			case 2:
				res.Already++
			}
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "accounts.completed", IncidentID: incidentID,
			After: map[string]any{"source": "webhook", "reported": len(report), "matched": res.Matched, "already": res.Already, "unknown": res.Unknown}})
		return err
	})
	if err != nil {
		return CompletionResult{}, fmt.Errorf("store: record completions: %w", err)
	}
	return res, nil
}

// PollCandidates lists up to limit people of the incident, with IDs above
// after, whose reset is done but not reported complete: what a status poll
// asks the provider about.
func (s *Store) PollCandidates(ctx context.Context, incidentID string, after int64, limit int) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT person_id FROM account_resets
		WHERE incident_id = $1 AND person_id > $2 AND state = 'done' AND completed_at IS NULL
		ORDER BY person_id LIMIT $3`, incidentID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: poll candidates: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: poll candidates: %w", err)
	}
	return ids, nil
}

// RecordStatusCompletions records the completions a status poll found, by
// person, at the time of the poll (the first time is kept), per day and in
// the counters of shard.
func (s *Store) RecordStatusCompletions(ctx context.Context, incidentID string, shard int, personIDs []int64) (int64, error) {
	if len(personIDs) == 0 {
		return 0, nil
	}
	now := s.now()
	times := make([]time.Time, len(personIDs))
	for i := range times {
		times[i] = now
	}
	var n int64
	if err := s.Pool.QueryRow(ctx, completionSQL, incidentID, personIDs, times, shard).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: record status completions: %w", err)
	}
	return n, nil
}

// AuditPoll appends the audit row of one status poll (counts only).
func (s *Store) AuditPoll(ctx context.Context, e AuditEntry) error {
	return s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.Audit(ctx, e)
		return err
	})
}

// ---- progress ----------------------------------------------------------------

// DayCount is the completions of one day (Europe/Paris).
type DayCount struct {
	Day       string `json:"day"` // YYYY-MM-DD
	Completed int64  `json:"completed"`
}

// AccountsProgress is where an incident's credential track stands: its
// track (nil before the start), the counts by state from the counters, and
// the completions per day.
type AccountsProgress struct {
	Track  *CredentialTrack   `json:"track,omitempty"`
	Counts breach.ResetCounts `json:"counts"`
	Daily  []DayCount         `json:"daily"`
}

// AccountsProgress reads the progress from the counters: a few rows, however
// many accounts.
func (s *Store) AccountsProgress(ctx context.Context, incidentID string) (AccountsProgress, error) {
	var p AccountsProgress
	if !validID(incidentID) {
		return p, fmt.Errorf("store: accounts progress: %w", notFound("incident"))
	}
	err := s.readSnapshot(ctx, func(q querier) error {
		tr, err := getTrack(ctx, q, incidentID, false)
		switch {
		case err == nil:
			p.Track = &tr
		case isNotFound(err):
		default:
			return err
		}
		if p.Counts, err = resetCounts(ctx, q, incidentID); err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), completed FROM account_completions_daily
			WHERE incident_id = $1 ORDER BY day`, incidentID)
		if err != nil {
			return err
		}
		p.Daily, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DayCount, error) {
			var d DayCount
			return d, r.Scan(&d.Day, &d.Completed)
		})
		return err
	})
	if err != nil {
		return p, fmt.Errorf("store: accounts progress: %w", err)
	}
	if p.Daily == nil {
		p.Daily = []DayCount{}
	}
	return p, nil
}

// resetCounts sums the incident's counters over their shards: a few rows,
// however many accounts.
func resetCounts(ctx context.Context, q querier, incidentID string) (breach.ResetCounts, error) {
	var c breach.ResetCounts
	err := q.QueryRow(ctx, `SELECT coalesce(sum(pending), 0), coalesce(sum(running), 0), coalesce(sum(done), 0),
		coalesce(sum(failed), 0), coalesce(sum(completed), 0) FROM account_reset_counts WHERE incident_id = $1`, incidentID).
		Scan(&c.Pending, &c.Running, &c.Done, &c.Failed, &c.Completed)
	return c, err
}

// CountResets counts the incident's reset rows by state, and the completed
// ones, with COUNT: for tests and checks, never for the progress.
func (s *Store) CountResets(ctx context.Context, incidentID string) (breach.ResetCounts, error) {
	var c breach.ResetCounts
	rows, err := s.Pool.Query(ctx, `SELECT state, count(*), count(completed_at) FROM account_resets WHERE incident_id = $1 GROUP BY state`, incidentID)
	if err != nil {
		return c, fmt.Errorf("store: count resets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n, done int64
		if err := rows.Scan(&state, &n, &done); err != nil {
			return c, fmt.Errorf("store: count resets: %w", err)
		}
		c.Add(breach.ResetState(state), n)
		c.Completed += done
	}
	return c, rows.Err()
}

// ResetRowView is one reset row as stored, for tests and checks.
type ResetRowView struct {
	PersonID    int64
	State       breach.ResetState
	Attempt     int
	Reason      string
	CompletedAt *time.Time
}

// ResetRows returns the incident's reset rows of the people with IDs
// from..to, by person.
func (s *Store) ResetRows(ctx context.Context, incidentID string, from, to int64) ([]ResetRowView, error) {
	rows, err := s.Pool.Query(ctx, `SELECT person_id, state, attempt, reason, completed_at FROM account_resets
		WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 ORDER BY person_id`, incidentID, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: reset rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ResetRowView, error) {
		var v ResetRowView
		var state string
		err := r.Scan(&v.PersonID, &state, &v.Attempt, &v.Reason, &v.CompletedAt)
		v.State, v.CompletedAt = breach.ResetState(state), utcPtr(v.CompletedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: reset rows: %w", err)
	}
	return out, nil
}

func isNotFound(err error) bool {
	var be *breach.Error
	return errors.As(err, &be) && be.Code == breach.ErrNotFound
}
