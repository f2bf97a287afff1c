package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/store"
)

// The people track: starting a send, making its ledger rows, and the batches
// that claim rows, render each person's letter, send it over one reused SMTP
// connection and record each outcome as the relay answers (DESIGN.md,
// "Exactly-once towards people").

// SendFacts reads what starting a send is decided on (read only).
func (a *Activities) SendFacts(ctx context.Context, in SendFactsInput) (breach.SendFacts, error) {
	f, err := a.Store.SendFacts(ctx, in.IncidentID)
	if err != nil {
		return f, a.fail(ctx, "send facts", in.IncidentID, err)
	}
	return f, nil
}

// StartSend locks the population, checks the rules again on it and records
// the send with its audit row.
func (a *Activities) StartSend(ctx context.Context, in StartSendInput) (SendRef, error) {
	var ref SendRef
	err := a.do(ctx, "start send", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		s, err := tx.StartSend(ctx, in.Actor, store.StartSendInput{
			IncidentID: in.IncidentID, Letters: in.Letters, Policy: in.Policy, Partitions: in.Partitions, Reason: in.Reason,
		})
		if err != nil {
			return nil, err
		}
		out := SendRef{ID: s.ID, Seq: s.Seq, People: s.Total, MinPerson: s.MinPerson, MaxPerson: s.MaxPerson,
			Policy: s.Policy, Partitions: s.Partitions}
		for _, id := range s.Letters {
			for _, l := range in.Letters {
				if l.ID == id {
					out.Letters = append(out.Letters, l)
				}
			}
		}
		return out, nil
	})
	return ref, err
}

// SetSendState pauses, resumes, cancels or completes a send, audited.
func (a *Activities) SetSendState(ctx context.Context, in SendStateInput) error {
	return a.do(ctx, "set send state", in.OpKey, in.RunID, in.IncidentID, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		s, err := tx.SetSendState(ctx, in.Actor, in.SendID, in.State, in.Reason)
		if err != nil {
			return nil, err
		}
		return map[string]any{"send_id": s.ID, "state": s.State}, nil
	})
}

// seedChunk is the number of people IDs one seeding transaction covers.
const seedChunk = 100_000

// SeedLedger makes the pending ledger rows of a partition's range, set-based,
// one INSERT .. SELECT per chunk of IDs, each chunk once (its operation key).
func (a *Activities) SeedLedger(ctx context.Context, in SeedInput) (int64, error) {
	if in.From > in.To {
		return 0, nil
	}
	var total int64
	for from := in.From; from <= in.To; from += seedChunk {
		to := min(from+seedChunk-1, in.To)
		var n int64
		key := fmt.Sprintf("%s/%d-%d", in.OpKey, from, to)
		err := a.do(ctx, "seed ledger", key, "", in.IncidentID, &n, func(ctx context.Context, tx *store.Tx) (any, error) {
			if in.Round > 0 {
				return tx.SeedReminderLedger(ctx, in.IncidentID, in.SendID, in.Round, in.Letters, from, to, in.Partition)
			}
			return tx.SeedLedger(ctx, in.IncidentID, in.Letters, from, to, in.Partition)
		})
		if err != nil {
			return total, err
		}
		total += n
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, to)
		}
	}
	return total, nil
}

// batchProgress is what a batch heartbeats: a retry resumes from it.
type batchProgress struct {
	Cursor int64 `json:"cursor"`
	Done   int   `json:"done"` // rows handled so far
}

// flushEvery and flushInterval bound the outcomes kept in memory before they
// are written. A batch declares beforehand how far it may send (the claim's
// attempted-through, raised flushEvery rows at a time with the outcomes so
// far): when it dies, the rows of its claim up to there become unknown and
// the others pending, so a crash leaves at most about flushEvery unknown
// rows (perhaps sent twice) per batch.
const (
	flushEvery    = 64
	flushInterval = 200 * time.Millisecond
)

// sendLetter is an approved letter version, verified, ready to render.
type sendLetter struct {
	breach.LetterVersion
	incident breach.Incident
}

// SendBatch sends one batch of a partition. It claims rows chunk by chunk
// (FOR UPDATE SKIP LOCKED, under a lease), opens the recipients in memory,
// renders each person's letter from the approved version in their language,
// sends it over one connection and records each outcome as the relay answers,
// in small statements every few messages. A permanent refusal (5xx) fails
// the row with the relay's answer; a temporary one (4xx) puts it back to
// pending for later; a relay that cannot be reached fails the activity
// (retryable) after giving back the rows it did not send.
func (a *Activities) SendBatch(ctx context.Context, in SendBatchInput) (SendBatchResult, error) {
	res, err := a.sendBatch(ctx, in)
	if err != nil {
		return res, a.fail(ctx, "send batch", in.IncidentID, err)
	}
	return res, nil
}

func (a *Activities) sendBatch(ctx context.Context, in SendBatchInput) (SendBatchResult, error) {
	res := SendBatchResult{Next: in.Cursor}
	if err := checkBatch(&in); err != nil {
		return res, err
	}
	scope := store.LedgerScope{IncidentID: in.IncidentID, Letters: in.Letters, From: in.From, To: in.To, Shard: in.Partition, Round: in.Round}
	cursor, done := max(in.Cursor, in.From), 0
	attempt := int32(1)
	if activity.IsActivity(ctx) {
		attempt = activity.GetInfo(ctx).Attempt
		var p batchProgress
		if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &p) == nil && p.Cursor > cursor {
			cursor, done = p.Cursor, p.Done
		}
	}
	if in.Sweep {
		n, _, err := a.Store.SweepExpired(ctx, scope)
		if err != nil {
			return res, err
		}
		res.Unknown += int(n)
	}
	b := &batch{
		a: a, in: in, scope: scope, res: &res, worker: fmt.Sprintf("%s#%d", a.identity(), attempt),
		token: store.NewClaimToken(),
	}
	stopped, err := b.run(ctx, cursor, in.Limit-done, done)
	res.Next = b.cursor
	if err != nil {
		return res, err
	}
	if stopped != "" {
		res.Stopped = stopped
		return res, nil
	}
	if res.Next > in.To {
		st, err := a.Store.RangeStatus(ctx, scope, in.Policy == breach.PolicyResend)
		if err != nil {
			return res, err
		}
		res.Open = st.Open
		if !st.WakeAt.IsZero() {
			w := st.WakeAt
			res.WakeAt = &w
		}
	}
	return res, nil
}

func checkBatch(in *SendBatchInput) error {
	switch {
	case in.SendID == "":
		return breach.Invalid("send_id", "is required")
	case len(in.Letters) == 0:
		return breach.Invalid("letters", "at least one letter version is required")
	case in.From < 1 || in.From > in.To:
		return breach.Invalid("range", "from must be >= 1 and <= to")
	case in.Limit < 1:
		return breach.Invalid("limit", "must be positive")
	case !in.Policy.Valid():
		return breach.Invalid("policy", "must be resend or hold")
	}
	if in.Lease <= 0 {
		in.Lease = DefaultLease
	}
	if in.Chunk <= 0 {
		in.Chunk = DefaultChunk
	}
	if in.RetryBase <= 0 {
		in.RetryBase = DefaultRetryBase
	}
	if in.MaxAttempts <= 0 {
		in.MaxAttempts = DefaultMaxAttempts
	}
	return nil
}

// batch is one run of SendBatch.
type batch struct {
	a      *Activities
	in     SendBatchInput
	scope  store.LedgerScope
	res    *SendBatchResult
	worker string
	token  int64 // the claim token of every chunk of the batch
	cursor int64 // the next person ID to claim from
	done   int   // rows claimed so far, by this attempt and those before

	letters map[string]*sendLetter
	conn    *mail.Conn

	claim     store.Claim
	pending   []store.Outcome // recorded, not yet written
	firstPend time.Time
	through   int64 // the highest person ID declared as perhaps sent
	declared  int64 // what the store knows of through
}

// run sends up to limit rows from cursor on. It returns the send's state when
// it stopped because the send is no longer running.
func (b *batch) run(ctx context.Context, cursor int64, limit, done int) (breach.SendState, error) {
	b.cursor, b.done = cursor, done
	defer b.release()
	for limit > 0 {
		state, err := b.a.Store.SendState(ctx, b.in.SendID)
		if err != nil {
			return "", err
		}
		if state != breach.SendRunning {
			return state, b.flush(ctx, true)
		}
		claim, err := b.a.Store.ClaimRows(ctx, store.ClaimSpec{
			LedgerScope: b.scope, After: b.cursor, Limit: min(b.in.Chunk, limit),
			Resend: b.in.Policy == breach.PolicyResend, Lease: b.in.Lease, Worker: b.worker, Token: b.token,
		})
		if err != nil {
			return "", err
		}
		if len(claim.Rows) == 0 {
			b.cursor = b.in.To + 1
			break
		}
		b.claim = claim
		b.res.Claimed += len(claim.Rows)
		if err := b.sendChunk(ctx); err != nil {
			return "", err
		}
		last := claim.Rows[len(claim.Rows)-1].PersonID
		b.cursor = last + 1
		limit -= len(claim.Rows)
		b.done += len(claim.Rows)
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, batchProgress{Cursor: b.cursor, Done: b.done})
		}
	}
	return "", b.flush(ctx, true)
}

// sendChunk sends the rows of the current claim.
func (b *batch) sendChunk(ctx context.Context) error {
	rows := b.claim.Rows
	if b.letters == nil {
		ls, err := b.a.sendLetters(ctx, b.in.IncidentID, b.in.Letters)
		if err != nil {
			b.giveBack(rows)
			return b.stopWith(ctx, err)
		}
		b.letters = ls
	}
	recipients, err := b.a.recipients(ctx, b.in.IncidentID, rows)
	if err != nil {
		b.giveBack(rows)
		return b.stopWith(ctx, err)
	}
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			b.giveBack(rows[i:])
			return b.stopWith(ctx, err)
		}
		if err := b.keepLease(ctx, rows[i:]); err != nil {
			b.giveBack(rows[i:])
			return b.stopWith(ctx, err)
		}
		if row.PersonID > b.through {
			// Declare the next rows as perhaps sent before sending them.
			b.through = rows[min(i+flushEvery, len(rows))-1].PersonID
			if err := b.flush(ctx, false); err != nil {
				b.giveBack(rows[i:])
				return b.stopWith(ctx, err)
			}
		}
		out, err := b.sendOne(ctx, row, recipients, false)
		if err != nil { // the relay cannot be used: give back what is left
			if out != nil {
				b.record(*out)
			}
			b.giveBack(rows[i+1:])
			return b.stopWith(ctx, err)
		}
		b.record(*out)
		if len(b.pending) >= flushEvery || time.Since(b.firstPend) >= flushInterval {
			if err := b.flush(ctx, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// stopWith writes what was recorded (on a context of its own: ctx may be
// the reason to stop) and returns err.
func (b *batch) stopWith(ctx context.Context, err error) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr := b.flush(fctx, true); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// keepLease renews the claim's lease when less than a third of it is left.
func (b *batch) keepLease(ctx context.Context, rest []store.ClaimedRow) error {
	if time.Until(b.claim.Until) > b.in.Lease/3 || len(rest) == 0 {
		return nil
	}
	if err := b.flush(ctx, false); err != nil {
		return err
	}
	_, until, err := b.a.Store.RenewLease(ctx, b.in.IncidentID, b.token, rest[0].PersonID, rest[len(rest)-1].PersonID, b.in.Lease)
	if err != nil {
		return err
	}
	b.claim.Until = until
	return nil
}

// sendOne renders and sends one person's letter. A non-nil error means the
// connection or the relay cannot be used any more: the row's outcome, if it
// has one, comes with it.
func (b *batch) sendOne(ctx context.Context, row store.ClaimedRow, recipients map[int64]breach.Recipient, again bool) (*store.Outcome, error) {
	out := &store.Outcome{PersonID: row.PersonID, LetterID: row.LetterID}
	letter := b.letters[row.LetterID]
	rcpt, ok := recipients[row.PersonID]
	if !ok || rcpt.Email == "" {
		out.State, out.Response = breach.DeliveryFailed, "no contact data for this person (purged or missing)"
		return out, nil
	}
	rendered, err := b.a.renderFor(ctx, letter, rcpt)
	if err != nil {
		out.State, out.Response = breach.DeliveryFailed, "the letter could not be rendered for this person"
		return out, nil
	}
	sender, err := b.a.mailer()
	if err != nil {
		return nil, err
	}
	out.MessageID = sender.MessageID(b.in.IncidentID, row.PersonID, letter.Version)
	if letter.Kind == breach.LetterReminder {
		// Its own Message-ID per round: a reminder is not the notice, and
		// reminder 2 is not reminder 1, even under the same letter version.
		out.MessageID = sender.KindMessageID(fmt.Sprintf("reminder%d", b.in.Round), b.in.IncidentID, row.PersonID, letter.Version)
	}
	dpo := letter.incident.Controller.DPO
	msg := mail.Message{
		MessageID: out.MessageID,
		To:        mail.Address{Addr: rcpt.Email, Name: rcpt.Name},
		Subject:   rendered.Subject,
		HTML:      rendered.HTML,
		Text:      rendered.Text,
		Headers:   map[string]string{"Content-Language": string(letter.Language)},
	}
	if dpo.Email != "" {
		msg.ReplyTo = mail.Address{Addr: dpo.Email, Name: oneLine(dpo.Name)}
	}
	if b.conn == nil {
		c, err := b.a.pool().get(ctx)
		if err != nil {
			out.Release = true
			return out, fmt.Errorf("open a connection to the relay: %w", err)
		}
		b.conn = c
	}
	err = b.conn.Send(ctx, msg)
	var se *mail.SendError
	var fe *mail.FieldError
	switch {
	case err == nil:
		out.State = breach.DeliverySent
		b.res.Sent++
		return out, nil
	case errors.As(err, &fe):
		out.State, out.Response = breach.DeliveryFailed, "malformed message: "+fe.Field+": "+fe.Reason
		b.res.Failed++
		return out, nil
	case errors.As(err, &se) && se.MessageRefused():
		out.State, out.Code, out.Response = breach.DeliveryFailed, se.Code, relayAnswer(se)
		b.res.Failed++
		return out, nil
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != 421:
		out.Code, out.Response = se.Code, relayAnswer(se)
		if row.Attempt >= b.in.MaxAttempts {
			out.State = breach.DeliveryFailed
			out.Response = fmt.Sprintf("temporary refusals %d times, the last: %s", row.Attempt, out.Response)
			b.res.Failed++
		} else {
			out.State, out.RetryAfter = breach.DeliveryPending, retryDelay(b.in.RetryBase, row.Attempt)
			b.res.Deferred++
		}
		return out, nil
	case errors.As(err, &se) && (se.Code == 0 || se.Code == 421) && se.Uncertain:
		// The whole message went out and no answer came: perhaps delivered.
		out.State, out.Response = breach.DeliveryUnknown, "the connection failed after the message was sent"
		b.res.Unknown++
	case ctx.Err() != nil:
		out.Release = true
		return out, ctx.Err()
	default:
		// The relay is unreachable, closed the session, or refuses it
		// (configuration): nothing was delivered; the row goes back.
		out.Release = true
	}
	b.closeConn()
	if se != nil && se.Permanent {
		return out, fmt.Errorf("the relay refuses the session: %d %s", se.Code, se.Response)
	}
	// Try once more on a fresh connection; if the relay is down, fail the
	// activity: it is retried until the relay is back.
	c, oerr := b.a.pool().get(ctx)
	if oerr != nil {
		return out, fmt.Errorf("the relay cannot be reached: %w", oerr)
	}
	b.conn = c
	if out.Release && !again {
		// Not sent: send it now on the new connection.
		return b.sendOne(ctx, row, recipients, true)
	}
	if out.Release {
		return out, errors.New("the relay failed twice in a row")
	}
	return out, nil
}

func relayAnswer(se *mail.SendError) string {
	s := fmt.Sprintf("%d", se.Code)
	if se.Enhanced != "" {
		s += " " + se.Enhanced
	}
	if se.Response != "" {
		s += " " + se.Response
	}
	return s
}

// retryDelay is base doubled at each attempt, capped.
func retryDelay(base time.Duration, attempt int) time.Duration {
	d := float64(base) * math.Pow(2, float64(max(attempt-1, 0)))
	return time.Duration(min(d, float64(maxRetryDelay)))
}

func oneLine(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return s
}

func (b *batch) record(o store.Outcome) {
	if len(b.pending) == 0 {
		b.firstPend = time.Now()
	}
	if o.Release {
		b.res.Released++
	}
	b.pending = append(b.pending, o)
}

// giveBack records the rows as released (claimed, not sent).
func (b *batch) giveBack(rows []store.ClaimedRow) {
	for _, r := range rows {
		b.record(store.Outcome{PersonID: r.PersonID, LetterID: r.LetterID, Release: true})
	}
}

// flush writes the recorded outcomes; the last flush of the batch appends
// its audit row.
func (b *batch) flush(ctx context.Context, last bool) error {
	var audit *store.AuditEntry
	if last && b.res.Claimed+b.res.Unknown > 0 {
		audit = &store.AuditEntry{Actor: breach.System, Action: "delivery.batch", IncidentID: b.in.IncidentID,
			After: map[string]any{
				"send_id": b.in.SendID, "partition": b.in.Partition, "from": b.in.Cursor, "next": b.cursor,
				"claimed": b.res.Claimed, "sent": b.res.Sent, "failed": b.res.Failed, "deferred": b.res.Deferred,
				"unknown": b.res.Unknown, "released": b.res.Released, "worker": b.worker,
			}}
		if activity.IsActivity(ctx) {
			info := activity.GetInfo(ctx)
			audit.WorkflowID, audit.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
		}
	}
	var through int64
	if b.through > b.declared {
		through = b.through
	}
	if len(b.pending) == 0 && audit == nil && through == 0 {
		return nil
	}
	_, err := b.a.Store.RecordOutcomes(ctx, b.in.IncidentID, b.token, b.in.Partition, b.worker, b.pending, through, audit)
	if err != nil {
		return err
	}
	b.pending = b.pending[:0]
	b.declared = max(b.declared, through)
	if activity.IsActivity(ctx) {
		// Alive, even when the relay is slow (the SDK sends at most one
		// heartbeat per fraction of the timeout).
		activity.RecordHeartbeat(ctx, batchProgress{Cursor: b.cursor, Done: b.done})
	}
	return nil
}

func (b *batch) closeConn() {
	if b.conn != nil {
		_ = b.conn.Close()
		b.conn = nil
	}
}

// release returns the connection to the pool.
func (b *batch) release() {
	if b.conn != nil {
		b.a.pool().put(b.conn)
		b.conn = nil
	}
}

// sendLetters loads the send's letter versions with the incident and checks
// that each is approved and renders now exactly as when it was approved: its
// content hash, recomputed, is the stored one. Otherwise nothing is sent.
func (a *Activities) sendLetters(ctx context.Context, incidentID string, ids []string) (map[string]*sendLetter, error) {
	if a.Letters == nil {
		return nil, errors.New("no letter renderer configured")
	}
	inc, err := a.Store.GetIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	ls, err := a.Store.LettersByID(ctx, incidentID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*sendLetter, len(ls))
	for _, l := range ls {
		if l.State != breach.LetterApproved && l.State != breach.LetterSuperseded {
			return nil, breach.Errorf(breach.ErrConflict, "letter %s version %d is %s, not approved", l.Language, l.Version, l.State)
		}
		if l.ApprovedAt == nil {
			return nil, breach.Errorf(breach.ErrConflict, "letter %s version %d was never approved", l.Language, l.Version)
		}
		if h := a.contentHash(inc, l); h != l.ContentHash {
			return nil, breach.Errorf(breach.ErrConflict,
				"letter %s version %d renders differently from the approved version (content hash changed): not sending", l.Language, l.Version)
		}
		out[l.ID] = &sendLetter{LetterVersion: l, incident: inc}
	}
	return out, nil
}

// renderFor renders the letter of a send for one person: the notice, or a
// reminder.
func (a *Activities) renderFor(ctx context.Context, l *sendLetter, rcpt breach.Recipient) (RenderedLetter, error) {
	if l.Kind == breach.LetterReminder {
		if a.Reminders == nil || l.Reminder == nil {
			return RenderedLetter{}, errors.New("no reminder renderer configured")
		}
		return a.Reminders.RenderReminder(ctx, ReminderInput{Incident: l.incident, Fields: *l.Reminder, Version: l.Version, Recipient: rcpt})
	}
	return a.Letters.RenderLetter(ctx, LetterInput{Incident: l.incident, Fields: l.Fields, Version: l.Version, Recipient: rcpt})
}

// contentHash recomputes an approved version's content hash, by kind.
func (a *Activities) contentHash(inc breach.Incident, l breach.LetterVersion) string {
	if l.Kind == breach.LetterReminder {
		if a.Reminders == nil || l.Reminder == nil {
			return ""
		}
		return a.Reminders.ContentHash(inc, *l.Reminder, l.Version)
	}
	return a.Letters.ContentHash(inc, l.Fields, l.Version)
}

// recipients opens the contact data of the claimed rows' people, in memory
// only: one read per run of close IDs.
func (a *Activities) recipients(ctx context.Context, incidentID string, rows []store.ClaimedRow) (map[int64]breach.Recipient, error) {
	if a.Vault == nil {
		return nil, errors.New("no data key configured (BREACH_DATA_KEY): contact data cannot be opened")
	}
	out := make(map[int64]breach.Recipient, len(rows))
	const gap = 64
	for i := 0; i < len(rows); {
		j := i
		for j+1 < len(rows) && rows[j+1].PersonID-rows[j].PersonID <= gap {
			j++
		}
		rs, err := a.Store.Recipients(ctx, a.Vault, incidentID, rows[i].PersonID, rows[j].PersonID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out[r.PersonID] = r
		}
		i = j + 1
	}
	return out, nil
}

func (a *Activities) identity() string {
	if a.Identity != "" {
		return a.Identity
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}

func (a *Activities) mailer() (*mail.Sender, error) {
	if a.Mail == nil {
		return nil, temporal.NewApplicationError("no SMTP relay configured (BREACH_SMTP_HOST)", "breach.mail_unconfigured")
	}
	return a.Mail, nil
}

// connPool keeps the connections of finished batches open for the next ones.
type connPool struct {
	sender *mail.Sender
	mu     sync.Mutex
	idle   []idleConn
}

type idleConn struct {
	c     *mail.Conn
	since time.Time
}

// idleFor is how long an unused connection is kept: relays close idle
// sessions after a few minutes.
const idleFor = 20 * time.Second

func (a *Activities) pool() *connPool {
	a.poolOnce.Do(func() { a.conns = &connPool{sender: a.Mail} })
	return a.conns
}

func (p *connPool) get(ctx context.Context) (*mail.Conn, error) {
	if p.sender == nil {
		return nil, errors.New("no SMTP relay configured (BREACH_SMTP_HOST)")
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		ic := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(ic.since) < idleFor && !ic.c.Broken() {
			p.mu.Unlock()
			return ic.c, nil
		}
		_ = ic.c.Close()
	}
	p.mu.Unlock()
	return p.sender.Open(ctx)
}

func (p *connPool) put(c *mail.Conn) {
	if c.Broken() {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
}
