package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Sends: starting, pausing, resuming, cancelling and completing the sending
// of approved letters to the people of an incident, the ledger rows made in
// bulk for them, and the counters by state that the status reads.

const sendColumns = `id::text, incident_id::text, seq, state, policy, letters::text[], total, min_person, max_person,
	partitions, risk, reason, started_by, started_at, updated_at, finished_at, kind, round`

func scanSend(row pgx.Row) (breach.Send, error) {
	var s breach.Send
	var state, policy, risk, kind string
	var round int16
	err := row.Scan(&s.ID, &s.IncidentID, &s.Seq, &state, &policy, &s.Letters, &s.Total, &s.MinPerson, &s.MaxPerson,
		&s.Partitions, &risk, &s.Reason, &s.StartedBy, &s.StartedAt, &s.UpdatedAt, &s.FinishedAt, &kind, &round)
	if err != nil {
		return s, err
	}
	s.Kind, s.Round = breach.LetterKind(kind), int(round)
	s.State, s.Policy, s.Risk = breach.SendState(state), breach.UnknownPolicy(policy), breach.Risk(risk)
	s.StartedAt, s.UpdatedAt, s.FinishedAt = utc(s.StartedAt), utc(s.UpdatedAt), utcPtr(s.FinishedAt)
	return s, nil
}

// activeSend is the incident's running or paused notice send, if any.
func activeSend(ctx context.Context, q querier, incidentID string) (*breach.Send, error) {
	return activeSendOf(ctx, q, incidentID, breach.LetterNotice)
}

// activeSendOf is the incident's running or paused send of the kind, if any.
func activeSendOf(ctx context.Context, q querier, incidentID string, kind breach.LetterKind) (*breach.Send, error) {
	s, err := scanSend(q.QueryRow(ctx, `SELECT `+sendColumns+` FROM sends WHERE incident_id = $1 AND kind = $2 AND state IN ('running', 'paused')`,
		incidentID, string(kind)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// sendFacts gathers what starting a send is decided on.
func sendFacts(ctx context.Context, q querier, inc breach.Incident) (breach.SendFacts, error) {
	f := breach.SendFacts{IncidentState: inc.State}
	rows, err := q.Query(ctx, `SELECT language, count(*), min(id), max(id) FROM people WHERE incident_id = $1 GROUP BY language ORDER BY language DESC`, inc.ID)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var lc breach.LanguageCount
		var lang string
		var lo, hi int64
		if err := rows.Scan(&lang, &lc.People, &lo, &hi); err != nil {
			return f, err
		}
		lc.Language = breach.Language(lang)
		f.Languages = append(f.Languages, lc) // "fr" before "en"
		if f.People == 0 || lo < f.MinPerson {
			f.MinPerson = lo
		}
		if hi > f.MaxPerson {
			f.MaxPerson = hi
		}
		f.People += lc.People
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	a, err := latestAssessment(ctx, q, inc.ID)
	if err != nil {
		return f, err
	}
	if a != nil {
		f.Risk, f.NotifySubjects = a.Decided, a.NotifySubjects()
	}
	active, err := activeSend(ctx, q, inc.ID)
	if err != nil {
		return f, err
	}
	if active != nil {
		f.ActiveSend = active.Seq
	}
	return f, nil
}

// SendFacts reads what starting a send of the incident is decided on.
func (s *Store) SendFacts(ctx context.Context, incidentID string) (breach.SendFacts, error) {
	inc, err := getIncident(ctx, s.Pool, incidentID, false)
	if err != nil {
		return breach.SendFacts{}, fmt.Errorf("store: send facts: %w", err)
	}
	var f breach.SendFacts
	err = s.readSnapshot(ctx, func(q querier) error {
		f, err = sendFacts(ctx, q, inc)
		return err
	})
	if err != nil {
		return f, fmt.Errorf("store: send facts: %w", err)
	}
	return f, nil
}

// StartSendInput starts a send.
type StartSendInput struct {
	IncidentID string
	// Letters are the approved current letter versions the workflow asks to
	// send: one is needed for every language present among the people.
	Letters    []breach.ApprovedLetter
	Policy     breach.UnknownPolicy
	Partitions int
	Reason     string
}

// StartSend starts a send: it locks the population (imports are refused from
// now on), checks the rules again on what is now frozen (breach.CheckSendStart,
// the letters still approved and current), records the send and audits
// "send.started". Ledger rows are made afterwards, range by range (SeedLedger).
func (t *Tx) StartSend(ctx context.Context, actor breach.Actor, in StartSendInput) (breach.Send, error) {
	var send breach.Send
	if !in.Policy.Valid() {
		return send, breach.Invalid("policy", "must be resend or hold")
	}
	if in.Partitions < 1 {
		return send, breach.Invalid("partitions", "must be at least 1")
	}
	inc, err := t.Incident(ctx, in.IncidentID)
	if err != nil {
		return send, err
	}
	if inc.State == breach.StateClosed {
		return send, closedConflict()
	}
	if err := t.s.LockPeople(ctx, t, in.IncidentID); err != nil {
		return send, err
	}
	facts, err := sendFacts(ctx, t.tx, inc)
	if err != nil {
		return send, err
	}
	// The workflow's view of the letters must still hold: approved and current.
	for _, al := range in.Letters {
		cur, err := latestLetter(ctx, t.tx, in.IncidentID, al.Language, true)
		if err != nil {
			return send, err
		}
		if cur == nil || cur.ID != al.ID || cur.State != breach.LetterApproved || cur.ContentHash != al.ContentHash {
			return send, breach.Errorf(breach.ErrConflict, "the letter in %q changed: version %d is no longer the approved current version", al.Language, al.Version)
		}
	}
	letters, err := breach.CheckSendStart(facts, in.Letters, in.Reason)
	if err != nil {
		return send, err
	}
	ids := make([]string, len(letters))
	for i, l := range letters {
		ids[i] = l.ID
	}
	seq, err := nextSendSeq(ctx, t, in.IncidentID)
	if err != nil {
		return send, err
	}
	now := t.Now()
	send, err = scanSend(t.tx.QueryRow(ctx, `
		INSERT INTO sends (incident_id, seq, state, policy, letters, total, min_person, max_person, partitions, risk, reason,
			started_by, started_at, updated_at)
		VALUES ($1, $2, 'running', $3, $4::uuid[], $5, $6, $7, $8, $9, $10, $11, $12, $12)
		RETURNING `+sendColumns,
		in.IncidentID, seq, string(in.Policy), ids, facts.People, facts.MinPerson, facts.MaxPerson, in.Partitions,
		string(facts.Risk), in.Reason, actor.UserID, now))
	if err != nil {
		return send, mapErr(err)
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "send.started", IncidentID: in.IncidentID, After: map[string]any{
		"send_id": send.ID, "seq": send.Seq, "letters": letters, "policy": send.Policy, "people": facts.People,
		"languages": facts.Languages, "risk": facts.Risk, "notify_subjects": facts.NotifySubjects,
		"reason": in.Reason, "partitions": in.Partitions,
	}})
	return send, err
}

// nextSendSeq numbers a new send of the incident: notices and reminders
// share the numbering, so a send's seq names it (and its partitions'
// workflows) whatever its kind. The incident row is locked by the caller.
func nextSendSeq(ctx context.Context, t *Tx, incidentID string) (int, error) {
	var seq int
	err := t.tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM sends WHERE incident_id = $1`, incidentID).Scan(&seq)
	return seq, err
}

// sendTransitions lists the states a send may move to from each state.
var sendTransitions = map[breach.SendState][]breach.SendState{
	breach.SendRunning: {breach.SendPaused, breach.SendCancelled, breach.SendCompleted},
	breach.SendPaused:  {breach.SendRunning, breach.SendCancelled},
}

// SetSendState moves a send to another state and audits it ("send.paused",
// "send.resumed", "send.cancelled", "send.completed" with the counts). Moving
// to the state it is in already is a no-op.
func (t *Tx) SetSendState(ctx context.Context, actor breach.Actor, sendID string, to breach.SendState, reason string) (breach.Send, error) {
	if !validID(sendID) {
		return breach.Send{}, notFound("send")
	}
	s, err := scanSend(t.tx.QueryRow(ctx, `SELECT `+sendColumns+` FROM sends WHERE id = $1 FOR UPDATE`, sendID))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, notFound("send")
	}
	if err != nil {
		return s, err
	}
	if s.State == to {
		return s, nil
	}
	if !slices.Contains(sendTransitions[s.State], to) {
		return s, breach.Errorf(breach.ErrConflict, "send %d is %s: it cannot become %s", s.Seq, s.State, to)
	}
	// A send running when the incident closed goes on to its end (the people
	// it was decided to tell are told; the incident's workflow waits for it
	// before the purge); it can still end, but no longer pause or resume.
	if to == breach.SendPaused || to == breach.SendRunning {
		if err := refuseClosed(ctx, t.tx, s.IncidentID); err != nil {
			return s, err
		}
	}
	from := s.State
	now := t.Now()
	finish := to == breach.SendCancelled || to == breach.SendCompleted
	s, err = scanSend(t.tx.QueryRow(ctx, `UPDATE sends SET state = $2, updated_at = $3,
		finished_at = CASE WHEN $4::boolean THEN $3 ELSE finished_at END
		WHERE id = $1 RETURNING `+sendColumns, sendID, string(to), now, finish))
	if err != nil {
		return s, mapErr(err)
	}
	action := map[breach.SendState]string{
		breach.SendPaused: "send.paused", breach.SendRunning: "send.resumed",
		breach.SendCancelled: "send.cancelled", breach.SendCompleted: "send.completed",
	}[to]
	after := map[string]any{"send_id": s.ID, "seq": s.Seq, "state": s.State}
	if s.Kind == breach.LetterReminder {
		after["kind"], after["round"] = s.Kind, s.Round
	}
	if reason != "" {
		after["reason"] = reason
	}
	if to == breach.SendCancelled || to == breach.SendCompleted {
		counts, err := roundCounts(ctx, t.tx, s.IncidentID, s.Round)
		if err != nil {
			return s, err
		}
		after["counts"] = counts
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: action, IncidentID: s.IncidentID,
		Before: map[string]any{"state": from}, After: after})
	return s, err
}

// SendState is the state of a send, read by the batches between chunks: a
// paused or cancelled send stops them within a chunk.
func (s *Store) SendState(ctx context.Context, sendID string) (breach.SendState, error) {
	if !validID(sendID) {
		return "", fmt.Errorf("store: send state: %w", notFound("send"))
	}
	var state string
	err := s.Pool.QueryRow(ctx, `SELECT state FROM sends WHERE id = $1`, sendID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("send")
	}
	if err != nil {
		return "", fmt.Errorf("store: send state: %w", err)
	}
	return breach.SendState(state), nil
}

// Send returns one send.
func (s *Store) Send(ctx context.Context, sendID string) (breach.Send, error) {
	if !validID(sendID) {
		return breach.Send{}, fmt.Errorf("store: send: %w", notFound("send"))
	}
	snd, err := scanSend(s.Pool.QueryRow(ctx, `SELECT `+sendColumns+` FROM sends WHERE id = $1`, sendID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("send")
	}
	if err != nil {
		return snd, fmt.Errorf("store: send: %w", err)
	}
	return snd, nil
}

// Sends lists the sends of an incident, the first one first.
func (s *Store) Sends(ctx context.Context, incidentID string) ([]breach.Send, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: sends: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+sendColumns+` FROM sends WHERE incident_id = $1 ORDER BY seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: sends: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breach.Send, error) { return scanSend(r) })
	if err != nil {
		return nil, fmt.Errorf("store: sends: %w", err)
	}
	return out, nil
}

// DeliveryStatus is where the telling of an incident's people stands.
type DeliveryStatus struct {
	IncidentID string                `json:"incident_id"`
	Counts     breach.DeliveryCounts `json:"counts"`
	// People is the number of people of the latest send (0 before any).
	People int64 `json:"people"`
	// Send is the latest send, nil before the first.
	Send *breach.Send `json:"send,omitempty"`
}

// deliveryCounts are the counts of the notice's ledger rows (round 0).
func deliveryCounts(ctx context.Context, q querier, incidentID string) (breach.DeliveryCounts, error) {
	return roundCounts(ctx, q, incidentID, 0)
}

// roundCounts are the counts of one round's ledger rows: 0 the notice, then
// the reminders.
func roundCounts(ctx context.Context, q querier, incidentID string, round int) (breach.DeliveryCounts, error) {
	var c breach.DeliveryCounts
	err := q.QueryRow(ctx, `SELECT coalesce(sum(pending), 0)::bigint, coalesce(sum(sending), 0)::bigint,
		coalesce(sum(sent), 0)::bigint, coalesce(sum(failed), 0)::bigint, coalesce(sum(unknown), 0)::bigint
		FROM delivery_counts WHERE incident_id = $1 AND round = $2`, incidentID, round).Scan(&c.Pending, &c.Sending, &c.Sent, &c.Failed, &c.Unknown)
	return c, err
}

// DeliveryCounts sums the counters of the incident's ledger by state: a few
// rows (one per writer shard), never the ledger itself.
func (s *Store) DeliveryCounts(ctx context.Context, incidentID string) (breach.DeliveryCounts, error) {
	if !validID(incidentID) {
		return breach.DeliveryCounts{}, fmt.Errorf("store: delivery counts: %w", notFound("incident"))
	}
	c, err := deliveryCounts(ctx, s.Pool, incidentID)
	if err != nil {
		return c, fmt.Errorf("store: delivery counts: %w", err)
	}
	return c, nil
}

// DeliveryStatus reads the counters and the latest send, in one snapshot.
func (s *Store) DeliveryStatus(ctx context.Context, incidentID string) (DeliveryStatus, error) {
	st := DeliveryStatus{IncidentID: incidentID}
	if !validID(incidentID) {
		return st, fmt.Errorf("store: delivery status: %w", notFound("incident"))
	}
	err := s.readSnapshot(ctx, func(q querier) error {
		if _, err := getIncident(ctx, q, incidentID, false); err != nil {
			return err
		}
		c, err := deliveryCounts(ctx, q, incidentID)
		if err != nil {
			return err
		}
		st.Counts = c
		snd, err := scanSend(q.QueryRow(ctx, `SELECT `+sendColumns+` FROM sends WHERE incident_id = $1 AND kind = 'notice' ORDER BY seq DESC LIMIT 1`, incidentID))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Send, st.People = &snd, snd.Total
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("store: delivery status: %w", err)
	}
	return st, nil
}

// SeedLedger makes the ledger rows of the people with IDs from..to, one per
// person for the letter of their language, pending, in one INSERT .. SELECT,
// and adds them to the counters of shard. Rows that exist already (a person
// told with this letter version by an earlier, cancelled send) are kept as
// they are. It returns the number of rows made.
func (t *Tx) SeedLedger(ctx context.Context, incidentID string, letters []breach.ApprovedLetter, from, to int64, shard int) (int64, error) {
	if !validID(incidentID) {
		return 0, notFound("incident")
	}
	langs := make([]string, len(letters))
	ids := make([]string, len(letters))
	hashes := make([]string, len(letters))
	for i, l := range letters {
		langs[i], ids[i], hashes[i] = string(l.Language), l.ID, l.ContentHash
	}
	var n int64
	err := t.tx.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO ledger (incident_id, person_id, letter_version_id, content_hash, updated_at)
			SELECT p.incident_id, p.id, l.id, l.hash, now()
			FROM people p JOIN unnest($4::text[], $5::uuid[], $6::text[]) AS l(language, id, hash) ON l.language = p.language
			WHERE p.incident_id = $1 AND p.id BETWEEN $2 AND $3
			ORDER BY p.id
			ON CONFLICT DO NOTHING
			RETURNING 1
		), cnt AS (
			INSERT INTO delivery_counts AS d (incident_id, shard, pending)
			SELECT $1, $7, count(*) FROM ins HAVING count(*) > 0
			ON CONFLICT (incident_id, round, shard) DO UPDATE SET pending = d.pending + EXCLUDED.pending, updated_at = now()
		)
		SELECT count(*) FROM ins`, incidentID, from, to, langs, ids, hashes, shard).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: seed ledger: %w", mapErr(err))
	}
	return n, nil
}
