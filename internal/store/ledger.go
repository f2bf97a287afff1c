package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// The delivery ledger (DESIGN.md, "Exactly-once towards people"). A batch
// claims rows (pending -> sending, with a lease and a claim token) with FOR
// UPDATE SKIP LOCKED, so that two batches never hold the same row; it records
// each outcome as the relay answers, only on rows its claim still holds. Rows
// left in sending past their lease become unknown (perhaps delivered).
//
// Each change is one statement: the ledger update, the events of the
// transitions off the straight path and the counters' deltas are
// data-modifying CTEs of it, so they commit together in one round trip.

// LedgerScope names the rows of one send that one partition works on: the
// people with IDs From..To (inclusive) of the incident, for the send's
// letter versions. Shard is the counters' row the partition writes to.
type LedgerScope struct {
	IncidentID string
	Letters    []string // letter version IDs
	From, To   int64
	Shard      int
	// Round is 0 for the notice, 1, 2... for the reminders (a reminder round
	// may reuse the letter version of the one before: the round tells their
	// rows apart).
	Round int
}

func (s LedgerScope) check() error {
	if !validID(s.IncidentID) {
		return notFound("incident")
	}
	if len(s.Letters) == 0 {
		return breach.Invalid("letters", "no letter version")
	}
	for _, id := range s.Letters {
		if !validID(id) {
			return notFound("letter version")
		}
	}
	if s.From > s.To {
		return breach.Invalid("range", "from is after to")
	}
	if s.Round < 0 {
		return breach.Invalid("round", "must not be negative")
	}
	return nil
}

// ClaimSpec asks for rows to send.
type ClaimSpec struct {
	LedgerScope
	// After: only rows of people with IDs >= After (the batch's cursor).
	After int64
	Limit int
	// Resend claims unknown rows too (the send's policy is resend).
	Resend bool
	Lease  time.Duration
	Worker string // identity of the claiming worker, kept on the rows
	// Token identifies the claim; 0 draws a new one. A batch claims its
	// chunks under one token.
	Token int64
}

// ClaimedRow is one row a claim holds.
type ClaimedRow struct {
	PersonID int64
	LetterID string
	Attempt  int  // this attempt's number (1 for the first)
	Resend   bool // the row was unknown: it is sent again with the same Message-ID
}

// Claim is what a batch holds: the rows, the token that proves it, and the
// end of the lease.
type Claim struct {
	Token int64
	Until time.Time
	Rows  []ClaimedRow
}

// NewClaimToken draws a claim token.
func NewClaimToken() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) &^ (1 << 63))
}

// counterCTE adds the deltas of the rows of the CTE upd (round, old_state,
// new_state) to the counters of shard $shardParam, per round.
func counterCTE(shardParam string) string {
	var b strings.Builder
	b.WriteString(`cnt AS (
		INSERT INTO delivery_counts AS d (incident_id, round, shard, pending, sending, sent, failed, unknown)
		SELECT $1, round, ` + shardParam)
	for _, s := range breach.DeliveryStates {
		fmt.Fprintf(&b, `, count(*) FILTER (WHERE new_state = '%[1]s') - count(*) FILTER (WHERE old_state = '%[1]s')`, s)
	}
	b.WriteString(` FROM upd GROUP BY round
		ON CONFLICT (incident_id, round, shard) DO UPDATE SET `)
	for i, s := range breach.DeliveryStates {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `%[1]s = d.%[1]s + EXCLUDED.%[1]s`, s)
	}
	b.WriteString(`, updated_at = now())`)
	return b.String()
}

var claimSQL = `
	WITH c AS (
		SELECT person_id, letter_version_id, state FROM ledger
		WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 AND letter_version_id = ANY($4::uuid[]) AND round = $11
		  AND (state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
		       OR state = 'unknown' AND $6::boolean)
		ORDER BY person_id
		LIMIT $5
		FOR UPDATE SKIP LOCKED
	), upd AS (
		UPDATE ledger l SET state = 'sending', attempt = l.attempt + 1, lease_until = now() + $7::interval,
			claim = $8, worker = $9, next_attempt_at = NULL, updated_at = now()
		FROM c
		WHERE l.incident_id = $1 AND l.person_id = c.person_id AND l.letter_version_id = c.letter_version_id AND l.round = $11
		RETURNING l.person_id, l.letter_version_id, l.round, c.state AS old_state, l.state AS new_state, l.attempt, l.lease_until
	), ev AS (
		INSERT INTO ledger_events (incident_id, person_id, letter_version_id, round, from_state, to_state, attempt, worker, detail)
		SELECT $1, person_id, letter_version_id, round, old_state, new_state, attempt, $9, 'resend after an unknown outcome'
		FROM upd WHERE old_state = 'unknown'
	), ` + counterCTE("$10") + `
	SELECT person_id, letter_version_id::text, old_state, attempt, lease_until FROM upd ORDER BY person_id, letter_version_id`

// ClaimRows claims up to spec.Limit rows to send, lowest person IDs first
// from spec.After: pending rows whose retry time has come and, under the
// resend policy, unknown rows. Rows another batch holds are skipped (SKIP
// LOCKED), never waited for or taken twice.
func (s *Store) ClaimRows(ctx context.Context, spec ClaimSpec) (Claim, error) {
	cl := Claim{Token: spec.Token}
	if cl.Token == 0 {
		cl.Token = NewClaimToken()
	}
	if err := spec.check(); err != nil {
		return cl, fmt.Errorf("store: claim: %w", err)
	}
	if spec.Limit <= 0 || spec.Lease <= 0 {
		return cl, fmt.Errorf("store: claim: %w", breach.Invalid("limit", "limit and lease must be positive"))
	}
	from := max(spec.From, spec.After)
	if from > spec.To {
		return cl, nil
	}
	rows, err := s.Pool.Query(ctx, claimSQL, spec.IncidentID, from, spec.To, spec.Letters, spec.Limit, spec.Resend,
		spec.Lease, cl.Token, spec.Worker, spec.Shard, spec.Round)
	if err != nil {
		return cl, fmt.Errorf("store: claim: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ClaimedRow
		var old string
		var until time.Time
		if err := rows.Scan(&r.PersonID, &r.LetterID, &old, &r.Attempt, &until); err != nil {
			return cl, fmt.Errorf("store: claim: %w", err)
		}
		r.Resend = old == string(breach.DeliveryUnknown)
		cl.Rows = append(cl.Rows, r)
		cl.Until = until
	}
	if err := rows.Err(); err != nil {
		return cl, fmt.Errorf("store: claim: %w", err)
	}
	return cl, nil
}

// Outcome is what became of one claimed row.
type Outcome struct {
	PersonID int64
	LetterID string
	// State: sent; failed (permanent refusal); pending (temporary refusal,
	// retried after RetryAfter); unknown (the connection broke while
	// sending: perhaps delivered).
	State breach.DeliveryState
	// Release gives back a row that was claimed but not sent (the batch
	// stopped): pending again, its attempt not counted, no event.
	Release    bool
	RetryAfter time.Duration
	Code       int    // the relay's reply code, 0 for none
	Response   string // the relay's answer, without the recipient's address
	MessageID  string
}

// OutcomeResult counts the outcomes recorded.
type OutcomeResult struct {
	Applied int // rows the claim still held
	Counts  breach.DeliveryCounts
}

var outcomeSQL = `
	WITH u AS (
		SELECT * FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::boolean[], $7::float8[], $8::int[], $9::text[], $10::text[])
			AS u(person_id, letter_version_id, state, release, retry_secs, code, response, message_id)
	), c AS (
		SELECT o.person_id, o.letter_version_id, o.round, o.state AS old_state, u.state AS new_state, u.release, u.retry_secs,
			u.code, u.response, u.message_id
		FROM ledger o JOIN u ON o.person_id = u.person_id AND o.letter_version_id = u.letter_version_id
		WHERE o.incident_id = $1 AND o.claim = $2 AND o.state IN ('sending', 'unknown')
		FOR UPDATE OF o
	), upd AS (
		UPDATE ledger l SET
			state = c.new_state,
			attempt = CASE WHEN c.release THEN greatest(l.attempt - 1, 0) ELSE l.attempt END,
			lease_until = NULL,
			next_attempt_at = CASE WHEN c.retry_secs > 0 THEN now() + c.retry_secs * interval '1 second' END,
			message_id = coalesce(nullif(c.message_id, ''), l.message_id),
			relay_code = CASE WHEN c.release THEN l.relay_code ELSE nullif(c.code, 0) END,
			relay_response = CASE WHEN c.release THEN l.relay_response ELSE nullif(c.response, '') END,
			sent_at = CASE WHEN c.new_state = 'sent' THEN now() ELSE l.sent_at END,
			updated_at = now()
		FROM c
		WHERE l.incident_id = $1 AND l.person_id = c.person_id AND l.letter_version_id = c.letter_version_id AND l.round = c.round
		RETURNING l.person_id, l.letter_version_id, l.round, c.old_state, c.new_state, l.attempt, c.release, c.code, c.response
	), ev AS (
		INSERT INTO ledger_events (incident_id, person_id, letter_version_id, round, from_state, to_state, attempt, worker, relay_code, detail)
		SELECT $1, person_id, letter_version_id, round, old_state, new_state, attempt, $11, nullif(code, 0), coalesce(response, '')
		FROM upd
		WHERE NOT release AND NOT (old_state = 'sending' AND new_state = 'sent' AND attempt = 1)
	), wm AS (
		INSERT INTO ledger_claims AS w (token, incident_id, attempted_through)
		SELECT $2, $1, $13::bigint WHERE $13::bigint > 0
		ON CONFLICT (token) DO UPDATE SET attempted_through = greatest(w.attempted_through, EXCLUDED.attempted_through), updated_at = now()
	), ` + counterCTE("$12") + `
	SELECT new_state, count(*) FROM upd GROUP BY new_state`

// RecordOutcomes records the outcomes of rows held by the claim token, in
// one statement (with audit, when given, in the same transaction). Rows the
// claim no longer holds (another batch claimed them after the lease expired)
// are left alone; a row swept to unknown while the answer was on its way
// takes the answer: it is known again. attemptThrough, when positive, raises
// the highest person ID the claim may send to from now on (SweepExpired).
func (s *Store) RecordOutcomes(ctx context.Context, incidentID string, token int64, shard int, worker string, outs []Outcome, attemptThrough int64, audit *AuditEntry) (OutcomeResult, error) {
	var res OutcomeResult
	if !validID(incidentID) {
		return res, fmt.Errorf("store: record outcomes: %w", notFound("incident"))
	}
	n := len(outs)
	if n == 0 && audit == nil && attemptThrough <= 0 {
		return res, nil
	}
	persons := make([]int64, n)
	letters := make([]string, n)
	states := make([]string, n)
	release := make([]bool, n)
	retry := make([]float64, n)
	codes := make([]int32, n)
	responses := make([]string, n)
	mids := make([]string, n)
	for i, o := range outs {
		if !validID(o.LetterID) {
			return res, fmt.Errorf("store: record outcomes: %w", notFound("letter version"))
		}
		if o.Release {
			o.State = breach.DeliveryPending
		}
		switch o.State {
		case breach.DeliverySent, breach.DeliveryFailed, breach.DeliveryPending, breach.DeliveryUnknown:
		default:
			return res, fmt.Errorf("store: record outcomes: %w", breach.Invalid("state", "an outcome cannot be %q", o.State))
		}
		persons[i], letters[i], states[i], release[i] = o.PersonID, o.LetterID, string(o.State), o.Release
		retry[i], codes[i], responses[i], mids[i] = o.RetryAfter.Seconds(), int32(o.Code), truncate(o.Response, 1000), o.MessageID
	}
	run := func(ctx context.Context, q querier) error {
		rows, err := q.Query(ctx, outcomeSQL, incidentID, token, persons, letters, states, release, retry, codes, responses, mids, worker, shard, attemptThrough)
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
			res.Counts.Add(breach.DeliveryState(state), c)
			res.Applied += int(c)
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
		return res, fmt.Errorf("store: record outcomes: %w", err)
	}
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	return strings.ToValidUTF8(s[:n], "")
}

// RenewLease extends the lease of the rows the claim still holds among the
// people IDs from..to, and returns how many it still holds.
func (s *Store) RenewLease(ctx context.Context, incidentID string, token int64, from, to int64, lease time.Duration) (int64, time.Time, error) {
	var n int64
	var until time.Time
	err := s.Pool.QueryRow(ctx, `WITH upd AS (
			UPDATE ledger SET lease_until = now() + $5::interval
			WHERE incident_id = $1 AND person_id BETWEEN $3 AND $4 AND claim = $2 AND state = 'sending'
			RETURNING lease_until)
		SELECT count(*), coalesce(max(lease_until), now()) FROM upd`, incidentID, token, from, to, lease).Scan(&n, &until)
	if err != nil {
		return 0, until, fmt.Errorf("store: renew lease: %w", err)
	}
	return n, until, nil
}

var sweepSQL = `
	WITH c AS (
		SELECT l.person_id, l.letter_version_id, l.round, l.state, l.person_id <= coalesce(w.attempted_through, 0) AS tried
		FROM ledger l LEFT JOIN ledger_claims w ON w.token = l.claim
		WHERE l.incident_id = $1 AND l.person_id BETWEEN $2 AND $3 AND l.letter_version_id = ANY($4::uuid[]) AND l.round = $6
		  AND l.state = 'sending' AND l.lease_until < now()
		FOR UPDATE OF l SKIP LOCKED
	), upd AS (
		UPDATE ledger l SET state = CASE WHEN c.tried THEN 'unknown' ELSE 'pending' END,
			attempt = CASE WHEN c.tried THEN l.attempt ELSE greatest(l.attempt - 1, 0) END,
			lease_until = NULL, updated_at = now()
		FROM c
		WHERE l.incident_id = $1 AND l.person_id = c.person_id AND l.letter_version_id = c.letter_version_id AND l.round = c.round
		RETURNING l.person_id, l.letter_version_id, l.round, c.state AS old_state, l.state AS new_state, l.attempt, l.worker, c.tried
	), ev AS (
		INSERT INTO ledger_events (incident_id, person_id, letter_version_id, round, from_state, to_state, attempt, worker, detail)
		SELECT $1, person_id, letter_version_id, round, old_state, new_state, attempt, worker,
			CASE WHEN tried THEN 'lease expired while sending: perhaps delivered' ELSE 'lease expired before it was sent' END
		FROM upd
	), ` + counterCTE("$5") + `
	SELECT count(*) FILTER (WHERE tried), count(*) FILTER (WHERE NOT tried) FROM upd`

// SweepExpired ends the leases that expired in the scope: the batch holding
// them died or lost touch. Rows it may have sent (up to its attempted
// through) become unknown, perhaps delivered; the others go back to pending.
// It returns how many of each.
func (s *Store) SweepExpired(ctx context.Context, scope LedgerScope) (unknown, pending int64, err error) {
	if err := scope.check(); err != nil {
		return 0, 0, fmt.Errorf("store: sweep: %w", err)
	}
	if err := s.Pool.QueryRow(ctx, sweepSQL, scope.IncidentID, scope.From, scope.To, scope.Letters, scope.Shard, scope.Round).Scan(&unknown, &pending); err != nil {
		return 0, 0, fmt.Errorf("store: sweep: %w", err)
	}
	return unknown, pending, nil
}

// RangeStatus is what is left to do in a scope.
type RangeStatus struct {
	Pending int64 // to send, now or after a temporary refusal
	Sending int64 // held by a batch (perhaps a dead one, until its lease ends)
	Unknown int64
	// Open rows still need work: pending and sending, and unknown under the
	// resend policy.
	Open int64
	// WakeAt is when the earliest open row can be worked on: now, a retry
	// time, or the end of a lease. Zero when nothing is open.
	WakeAt time.Time
}

// RangeStatus reads what is left in the scope. It scans the scope: a
// partition calls it once per pass, not per batch.
func (s *Store) RangeStatus(ctx context.Context, scope LedgerScope, resend bool) (RangeStatus, error) {
	var st RangeStatus
	if err := scope.check(); err != nil {
		return st, fmt.Errorf("store: range status: %w", err)
	}
	var retryAt, leaseEnd *time.Time
	var now time.Time
	err := s.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sending'),
			count(*) FILTER (WHERE state = 'unknown'),
			min(coalesce(next_attempt_at, now())) FILTER (WHERE state = 'pending'),
			min(lease_until) FILTER (WHERE state = 'sending'), now()
		FROM ledger
		WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 AND letter_version_id = ANY($4::uuid[]) AND round = $5
		  AND state IN ('pending', 'sending', 'unknown')`,
		scope.IncidentID, scope.From, scope.To, scope.Letters, scope.Round).Scan(&st.Pending, &st.Sending, &st.Unknown, &retryAt, &leaseEnd, &now)
	if err != nil {
		return st, fmt.Errorf("store: range status: %w", err)
	}
	st.Open = st.Pending + st.Sending
	if resend {
		st.Open += st.Unknown
		if st.Unknown > 0 {
			st.WakeAt = now
		}
	}
	for _, t := range []*time.Time{retryAt, leaseEnd} {
		if t != nil && (st.WakeAt.IsZero() || t.Before(st.WakeAt)) {
			st.WakeAt = *t
		}
	}
	if !st.WakeAt.IsZero() {
		st.WakeAt = st.WakeAt.UTC()
	}
	return st, nil
}

// LedgerRow is one row of the ledger as stored.
type LedgerRow struct {
	IncidentID    string               `json:"incident_id"`
	PersonID      int64                `json:"person_id"`
	LetterID      string               `json:"letter_version_id"`
	State         breach.DeliveryState `json:"state"`
	Attempt       int                  `json:"attempt"`
	LeaseUntil    *time.Time           `json:"lease_until,omitempty"`
	Worker        string               `json:"worker,omitempty"`
	NextAttemptAt *time.Time           `json:"next_attempt_at,omitempty"`
	ContentHash   string               `json:"content_hash"`
	MessageID     string               `json:"message_id,omitempty"`
	RelayCode     int                  `json:"relay_code,omitempty"`
	RelayResponse string               `json:"relay_response,omitempty"`
	SentAt        *time.Time           `json:"sent_at,omitempty"`
	UpdatedAt     time.Time            `json:"updated_at"`
}

const ledgerColumns = `incident_id::text, person_id, letter_version_id::text, state, attempt, lease_until,
	coalesce(worker, ''), next_attempt_at, content_hash, coalesce(message_id, ''), coalesce(relay_code, 0),
	coalesce(relay_response, ''), sent_at, updated_at`

func scanLedgerRow(row pgx.Row) (LedgerRow, error) {
	var r LedgerRow
	var state string
	var code int16
	err := row.Scan(&r.IncidentID, &r.PersonID, &r.LetterID, &state, &r.Attempt, &r.LeaseUntil, &r.Worker,
		&r.NextAttemptAt, &r.ContentHash, &r.MessageID, &code, &r.RelayResponse, &r.SentAt, &r.UpdatedAt)
	r.State, r.RelayCode = breach.DeliveryState(state), int(code)
	return r, err
}

// LedgerRows returns the ledger rows of the people with IDs from..to of the
// incident, by person.
func (s *Store) LedgerRows(ctx context.Context, incidentID string, from, to int64) ([]LedgerRow, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: ledger rows: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+ledgerColumns+` FROM ledger WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3
		ORDER BY person_id, letter_version_id`, incidentID, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: ledger rows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerRow, error) { return scanLedgerRow(r) })
	if err != nil {
		return nil, fmt.Errorf("store: ledger rows: %w", err)
	}
	return out, nil
}

// LedgerEvent is one transition of a ledger row off the straight path.
type LedgerEvent struct {
	ID        int64                `json:"id"`
	PersonID  int64                `json:"person_id"`
	LetterID  string               `json:"letter_version_id"`
	At        time.Time            `json:"at"`
	From      breach.DeliveryState `json:"from"`
	To        breach.DeliveryState `json:"to"`
	Attempt   int                  `json:"attempt"`
	Worker    string               `json:"worker,omitempty"`
	RelayCode int                  `json:"relay_code,omitempty"`
	Detail    string               `json:"detail,omitempty"`
}

// LedgerEvents returns the events of the incident's ledger rows of the people
// with IDs from..to, in order.
func (s *Store) LedgerEvents(ctx context.Context, incidentID string, from, to int64) ([]LedgerEvent, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: ledger events: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, person_id, letter_version_id::text, at, from_state, to_state, attempt,
		coalesce(worker, ''), coalesce(relay_code, 0), detail
		FROM ledger_events WHERE incident_id = $1 AND person_id BETWEEN $2 AND $3 ORDER BY person_id, id`, incidentID, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: ledger events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerEvent, error) {
		var e LedgerEvent
		var from, to string
		var code int16
		err := r.Scan(&e.ID, &e.PersonID, &e.LetterID, &e.At, &from, &to, &e.Attempt, &e.Worker, &code, &e.Detail)
		e.From, e.To, e.RelayCode, e.At = breach.DeliveryState(from), breach.DeliveryState(to), int(code), e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: ledger events: %w", err)
	}
	return out, nil
}

// CountLedger counts the incident's ledger rows by state with COUNT: for
// tests and checks, never for the status (DeliveryCounts reads the counters).
func (s *Store) CountLedger(ctx context.Context, incidentID string) (breach.DeliveryCounts, error) {
	var c breach.DeliveryCounts
	rows, err := s.Pool.Query(ctx, `SELECT state, count(*) FROM ledger WHERE incident_id = $1 GROUP BY state`, incidentID)
	if err != nil {
		return c, fmt.Errorf("store: count ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return c, fmt.Errorf("store: count ledger: %w", err)
		}
		c.Add(breach.DeliveryState(state), n)
	}
	return c, rows.Err()
}
