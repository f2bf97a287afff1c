package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
)

var approverB = breach.Actor{UserID: "33333333-3333-4333-8333-333333333333", Role: breach.RoleApprover}

// deliveryFixture is an incident with n people (every third reads English),
// assessed at the given risk.
type deliveryFixture struct {
	st       *store.Store
	incident string
	n        int64
}

func newDeliveryFixture(t *testing.T, n int64, risk breach.Risk) *deliveryFixture {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	inc, _, err := st.CreateIncident(ctx, dpo, sampleInput(fmt.Sprintf("delivery-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	// People rows as the import makes them, in the incident's partition
	// (migration people_partitions); the ledger needs only IDs and languages, the sealed
	// columns stay empty.
	part := pgx.Identifier{"people_" + strings.ReplaceAll(inc.ID, "-", "")}.Sanitize()
	if _, err := st.Pool.Exec(ctx, `CREATE TABLE `+part+` PARTITION OF people FOR VALUES IN ('`+inc.ID+`')`); err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id, language)
		SELECT $1, g, sha256(g::text::bytea), 'k1', CASE WHEN g % 3 = 0 THEN 'en' ELSE 'fr' END
		FROM generate_series(1, $2::bigint) g`, inc.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	if risk != "" {
		_, err = st.Pool.Exec(ctx, `INSERT INTO assessments (incident_id, facts, proposal, decided, overridden, decided_by)
			VALUES ($1, '{}', '{}', $2, false, $3)`, inc.ID, string(risk), dpo.UserID)
		if err != nil {
			t.Fatal(err)
		}
	}
	return &deliveryFixture{st: st, incident: inc.ID, n: n}
}

func letterFields(lang breach.Language) breach.LetterFields {
	return breach.LetterFields{Language: lang, Subject: "Subject", WhatHappened: "Nature.", Consequences: "Consequences.",
		MeasuresTaken: "Measures.", PasswordReset: true}
}

// approvedLetter saves a letter drafted by the DPO and approves it as approverB.
func (f *deliveryFixture) approvedLetter(t *testing.T, lang breach.Language) breach.ApprovedLetter {
	t.Helper()
	ctx := context.Background()
	var l breach.LetterVersion
	err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		slot, err := tx.PrepareLetter(ctx, dpo, f.incident, lang, 0)
		if err != nil {
			return err
		}
		l, err = tx.SaveLetterVersion(ctx, dpo, slot, letterFields(lang), "hash-"+string(lang))
		if err != nil {
			return err
		}
		l, err = tx.DecideLetter(ctx, approverB, f.incident, l.ID, true, "ok")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return breach.ApprovedLetter{ID: l.ID, Language: lang, Version: l.Version, ContentHash: l.ContentHash}
}

func (f *deliveryFixture) start(t *testing.T, letters []breach.ApprovedLetter, reason string) (breach.Send, error) {
	t.Helper()
	var s breach.Send
	err := f.st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) (err error) {
		s, err = tx.StartSend(ctx, dpo, store.StartSendInput{IncidentID: f.incident, Letters: letters,
			Policy: breach.PolicyResend, Partitions: 2, Reason: reason})
		return err
	})
	return s, err
}

func (f *deliveryFixture) seed(t *testing.T, letters []breach.ApprovedLetter, from, to int64, shard int) int64 {
	t.Helper()
	var n int64
	err := f.st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) (err error) {
		n, err = tx.SeedLedger(ctx, f.incident, letters, from, to, shard)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sendReady starts a send of both letters and seeds the whole range.
func (f *deliveryFixture) sendReady(t *testing.T) (breach.Send, []string) {
	t.Helper()
	letters := []breach.ApprovedLetter{f.approvedLetter(t, breach.French), f.approvedLetter(t, breach.English)}
	s, err := f.start(t, letters, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.seed(t, letters, 1, f.n, 0); n != f.n {
		t.Fatalf("seeded %d rows, want %d", n, f.n)
	}
	return s, []string{letters[0].ID, letters[1].ID}
}

// checkCounts compares the counters with a COUNT of the ledger.
func (f *deliveryFixture) checkCounts(t *testing.T, when string) breach.DeliveryCounts {
	t.Helper()
	ctx := context.Background()
	counters, err := f.st.DeliveryCounts(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	counted, err := f.st.CountLedger(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	if counters != counted {
		t.Fatalf("%s: counters %+v, COUNT %+v", when, counters, counted)
	}
	return counted
}

func TestLettersFourEyesAndFrozenDuringSend(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 10, breach.RiskHigh)
	var l breach.LetterVersion
	err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		slot, err := tx.PrepareLetter(ctx, approver, f.incident, breach.French, 0)
		if err != nil {
			return err
		}
		l, err = tx.SaveLetterVersion(ctx, approver, slot, letterFields(breach.French), "h1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(actor breach.Actor, id string) error {
		return f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.DecideLetter(ctx, actor, f.incident, id, true, "")
			return err
		})
	}
	if err := decide(approver, l.ID); code(err) != breach.ErrForbidden {
		t.Fatalf("author approving: %v", err)
	}
	// A stale base version is refused.
	err = f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.PrepareLetter(ctx, approverB, f.incident, breach.French, 0)
		return err
	})
	if code(err) != breach.ErrConflict {
		t.Fatalf("stale base: %v", err)
	}
	if err := decide(approverB, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := decide(approverB, l.ID); code(err) != breach.ErrConflict {
		t.Fatalf("deciding twice: %v", err)
	}
	en := f.approvedLetter(t, breach.English)
	fr := breach.ApprovedLetter{ID: l.ID, Language: breach.French, Version: 1, ContentHash: "h1"}
	if _, err := f.start(t, []breach.ApprovedLetter{fr, en}, ""); err != nil {
		t.Fatal(err)
	}
	// While the send is active, letters do not change.
	err = f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.PrepareLetter(ctx, dpo, f.incident, breach.French, 1)
		return err
	})
	if code(err) != breach.ErrConflict {
		t.Fatalf("new version during the send: %v", err)
	}
	actions := map[string]bool{}
	rows, _ := f.st.AuditLog(ctx, f.incident)
	for _, r := range rows {
		actions[r.Action] = true
	}
	for _, a := range []string{"letter.saved", "letter.approved", "send.started"} {
		if !actions[a] {
			t.Errorf("audit lacks %s", a)
		}
	}
}

func TestStartSendChecksLanguagesRiskAndLocksPeople(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 30, breach.RiskSome)
	fr := f.approvedLetter(t, breach.French)
	if _, err := f.start(t, []breach.ApprovedLetter{fr}, "x"); code(err) != breach.ErrConflict {
		t.Fatalf("English readers without an English letter: %v", err)
	}
	en := f.approvedLetter(t, breach.English)
	var be *breach.Error
	if _, err := f.start(t, []breach.ApprovedLetter{fr, en}, ""); !errors.As(err, &be) || be.Field != "reason" {
		t.Fatalf("risk not high, no reason: %v", err)
	}
	stale := fr
	stale.ContentHash = "other"
	if _, err := f.start(t, []breach.ApprovedLetter{stale, en}, "x"); code(err) != breach.ErrConflict {
		t.Fatalf("letter changed since the workflow saw it: %v", err)
	}
	s, err := f.start(t, []breach.ApprovedLetter{fr, en}, "told as a precaution")
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 30 || s.MinPerson != 1 || s.MaxPerson != 30 || s.Seq != 1 || len(s.Letters) != 2 || s.Risk != breach.RiskSome {
		t.Fatalf("send %+v", s)
	}
	if at, err := f.st.PeopleLockedAt(ctx, f.incident); err != nil || at == nil {
		t.Fatalf("people not locked: %v %v", at, err)
	}
	if _, err := f.start(t, []breach.ApprovedLetter{fr, en}, "x"); code(err) != breach.ErrConflict {
		t.Fatalf("second active send: %v", err)
	}
	// Seeding twice makes the rows once.
	if n := f.seed(t, []breach.ApprovedLetter{fr, en}, 1, 20, 0); n != 20 {
		t.Fatalf("seeded %d", n)
	}
	if n := f.seed(t, []breach.ApprovedLetter{fr, en}, 11, 30, 1); n != 10 {
		t.Fatalf("seeded again %d", n)
	}
	c := f.checkCounts(t, "seeded")
	if c.Pending != 30 {
		t.Fatalf("counts %+v", c)
	}
	rows, err := f.st.LedgerRows(ctx, f.incident, 1, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := fr
		if r.PersonID%3 == 0 {
			want = en
		}
		if r.LetterID != want.ID || r.ContentHash != want.ContentHash || r.State != breach.DeliveryPending {
			t.Fatalf("row %+v, want letter %s", r, want.ID)
		}
	}
	st, err := f.st.DeliveryStatus(ctx, f.incident)
	if err != nil || st.Send == nil || st.Send.ID != s.ID || st.People != 30 || st.Counts.Pending != 30 {
		t.Fatalf("status %+v %v", st, err)
	}
	// Pause, resume, cancel; completing a cancelled send is refused.
	for _, to := range []breach.SendState{breach.SendPaused, breach.SendRunning, breach.SendCancelled} {
		err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.SetSendState(ctx, dpo, s.ID, to, "reason")
			return err
		})
		if err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
	}
	err = f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.SetSendState(ctx, breach.System, s.ID, breach.SendCompleted, "")
		return err
	})
	if code(err) != breach.ErrConflict {
		t.Fatalf("completing a cancelled send: %v", err)
	}
	// Starting again (after a cancel, or to resend rows held as unknown)
	// takes the rows already made as they are: nobody is added twice.
	s2, err := f.start(t, []breach.ApprovedLetter{fr, en}, "resuming after the cancel")
	if err != nil || s2.Seq != 2 {
		t.Fatalf("second send: %+v %v", s2, err)
	}
	if n := f.seed(t, []breach.ApprovedLetter{fr, en}, 1, 30, 0); n != 0 {
		t.Fatalf("seeding the second send made %d rows", n)
	}
	if c := f.checkCounts(t, "second send"); c.Pending != 30 {
		t.Fatalf("counts %+v", c)
	}
}

// TestClaimSkipLocked: concurrent claimers over one range never hold the same
// row, and rows locked by another transaction are skipped, not waited for.
func TestClaimSkipLocked(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 3000, breach.RiskHigh)
	_, letters := f.sendReady(t)
	scope := store.LedgerScope{IncidentID: f.incident, Letters: letters, From: 1, To: f.n}

	// A transaction holds the locks of people 1..10: a claim skips them.
	tx, err := f.st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM ledger WHERE incident_id = $1 AND person_id <= 10 FOR UPDATE`, f.incident); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	cl, err := f.st.ClaimRows(cctx, store.ClaimSpec{LedgerScope: scope, Limit: 5, Lease: time.Minute, Worker: "w0"})
	cancel()
	if err != nil {
		t.Fatalf("claim next to locked rows: %v", err)
	}
	if len(cl.Rows) != 5 || cl.Rows[0].PersonID != 11 {
		t.Fatalf("claimed %+v, want people 11..15", cl.Rows)
	}
	_ = tx.Rollback(ctx)
	release := func(cl store.Claim) {
		var outs []store.Outcome
		for _, r := range cl.Rows {
			outs = append(outs, store.Outcome{PersonID: r.PersonID, LetterID: r.LetterID, Release: true})
		}
		if _, err := f.st.RecordOutcomes(ctx, f.incident, cl.Token, 0, "w0", outs, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	release(cl)

	// Four claimers race over the whole range until nothing is left.
	var mu sync.Mutex
	holders := map[int64][]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cl, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: scope, Limit: 37, Lease: time.Minute,
					Worker: fmt.Sprintf("w%d", w)})
				if err != nil {
					errs <- err
					return
				}
				if len(cl.Rows) == 0 {
					return
				}
				outs := make([]store.Outcome, len(cl.Rows))
				mu.Lock()
				for i, r := range cl.Rows {
					holders[r.PersonID] = append(holders[r.PersonID], w)
					outs[i] = store.Outcome{PersonID: r.PersonID, LetterID: r.LetterID, State: breach.DeliverySent, MessageID: "<m>"}
				}
				mu.Unlock()
				res, err := f.st.RecordOutcomes(ctx, f.incident, cl.Token, w, fmt.Sprintf("w%d", w), outs, 0, nil)
				if err != nil {
					errs <- err
					return
				}
				if res.Applied != len(outs) {
					errs <- fmt.Errorf("applied %d of %d", res.Applied, len(outs))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(holders) != int(f.n) {
		t.Fatalf("%d people claimed, want %d", len(holders), f.n)
	}
	workers := map[int]bool{}
	for id, h := range holders {
		if len(h) != 1 {
			t.Fatalf("person %d claimed by %v", id, h)
		}
		workers[h[0]] = true
	}
	if len(workers) < 2 {
		t.Logf("only %d claimer got rows (scheduling)", len(workers))
	}
	c := f.checkCounts(t, "after the race")
	if c.Sent != f.n {
		t.Fatalf("counts %+v", c)
	}
}

// TestLeaseExpiryMakesUnknownThenResent: rows left in sending past their
// lease become unknown when the batch may have sent them (up to its declared
// attempted-through) and pending otherwise, with events; the resend policy
// claims unknown rows again, and a late answer of the first claim still lands
// if nobody took them.
func TestLeaseExpiryMakesUnknownThenResent(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 20, breach.RiskHigh)
	_, letters := f.sendReady(t)
	scope := store.LedgerScope{IncidentID: f.incident, Letters: letters, From: 1, To: f.n, Shard: 3}
	dead, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: scope, Limit: 10, Lease: 50 * time.Millisecond, Worker: "dead"})
	if err != nil || len(dead.Rows) != 10 {
		t.Fatalf("claim %v %+v", err, dead)
	}
	// The batch declares it may send to people 1..5, then dies.
	if _, err := f.st.RecordOutcomes(ctx, f.incident, dead.Token, 3, "dead", nil, 5, nil); err != nil {
		t.Fatal(err)
	}
	if u, p, err := f.st.SweepExpired(ctx, scope); err != nil || u+p != 0 {
		t.Fatalf("sweep before the lease ended: %d %d %v", u, p, err)
	}
	st, err := f.st.RangeStatus(ctx, scope, true)
	if err != nil || st.Sending != 10 || st.Pending != 10 || st.Open != 20 || st.WakeAt.IsZero() {
		t.Fatalf("range status %+v %v", st, err)
	}
	time.Sleep(100 * time.Millisecond)
	u, p, err := f.st.SweepExpired(ctx, scope)
	if err != nil || u != 5 || p != 5 {
		t.Fatalf("sweep: %d unknown, %d pending, %v", u, p, err)
	}
	c := f.checkCounts(t, "swept")
	if c.Unknown != 5 || c.Pending != 15 {
		t.Fatalf("counts %+v", c)
	}
	rows, _ := f.st.LedgerRows(ctx, f.incident, 6, 6)
	if rows[0].State != breach.DeliveryPending || rows[0].Attempt != 0 {
		t.Fatalf("never tried row %+v", rows[0])
	}
	// Hold: unknown rows are not claimed and do not count as open.
	if st, _ := f.st.RangeStatus(ctx, scope, false); st.Open != 15 {
		t.Fatalf("open under hold %+v", st)
	}
	held, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: scope, Limit: 100, Lease: time.Minute, Worker: "w2"})
	if err != nil || len(held.Rows) != 15 || held.Rows[0].PersonID != 6 {
		t.Fatalf("claim under hold: %v %+v", err, held.Rows)
	}
	// The first claim's late answer for person 1: known again (sent).
	res, err := f.st.RecordOutcomes(ctx, f.incident, dead.Token, 3, "dead", []store.Outcome{
		{PersonID: 1, LetterID: dead.Rows[0].LetterID, State: breach.DeliverySent, MessageID: "<late>"}}, 0, nil)
	if err != nil || res.Applied != 1 {
		t.Fatalf("late answer: %+v %v", res, err)
	}
	// Resend: the other four unknown rows are claimed again, as resends.
	again, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: scope, Limit: 100, Lease: time.Minute, Worker: "w3", Resend: true})
	if err != nil || len(again.Rows) != 4 {
		t.Fatalf("resend claim: %v %+v", err, again.Rows)
	}
	for _, r := range again.Rows {
		if !r.Resend || r.Attempt != 2 || r.PersonID == 1 || r.PersonID > 5 {
			t.Fatalf("resend row %+v", r)
		}
	}
	// The dead claim's answers no longer land on rows claimed again.
	res, err = f.st.RecordOutcomes(ctx, f.incident, dead.Token, 3, "dead", []store.Outcome{
		{PersonID: 2, LetterID: dead.Rows[1].LetterID, State: breach.DeliverySent}}, 0, nil)
	if err != nil || res.Applied != 0 {
		t.Fatalf("stale answer applied: %+v %v", res, err)
	}
	var outs []store.Outcome
	for _, r := range again.Rows {
		outs = append(outs, store.Outcome{PersonID: r.PersonID, LetterID: r.LetterID, State: breach.DeliverySent, MessageID: "<m>"})
	}
	if _, err := f.st.RecordOutcomes(ctx, f.incident, again.Token, 3, "w3", outs, 0, nil); err != nil {
		t.Fatal(err)
	}
	path := func(person int64) []string {
		evs, err := f.st.LedgerEvents(ctx, f.incident, person, person)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, string(e.From)+">"+string(e.To))
		}
		return out
	}
	if got := path(2); !slices.Equal(got, []string{"sending>unknown", "unknown>sending", "sending>sent"}) {
		t.Fatalf("events of person 2: %v", got)
	}
	if got := path(7); !slices.Equal(got, []string{"sending>pending"}) {
		t.Fatalf("events of person 7: %v", got)
	}
	rows, _ = f.st.LedgerRows(ctx, f.incident, 2, 2)
	if rows[0].State != breach.DeliverySent || rows[0].Attempt != 2 || rows[0].Worker != "w3" {
		t.Fatalf("row %+v", rows[0])
	}
	f.checkCounts(t, "resent")
}

// TestCountersEqualCountAfterRandomTransitions drives the ledger through a
// random mix of claims, outcomes of every kind, releases, expired leases and
// sweeps, and compares the counters with a COUNT after each step.
func TestCountersEqualCountAfterRandomTransitions(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 400, breach.RiskHigh)
	_, letters := f.sendReady(t)
	rng := rand.New(rand.NewPCG(42, 7))
	var claims []store.Claim
	for step := range 120 {
		shard := rng.IntN(4)
		scope := store.LedgerScope{IncidentID: f.incident, Letters: letters, From: 1 + int64(rng.IntN(200)), To: f.n, Shard: shard}
		switch op := rng.IntN(10); {
		case op < 4:
			lease := time.Minute
			if rng.IntN(3) == 0 {
				lease = time.Millisecond
			}
			cl, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: scope, Limit: 1 + rng.IntN(40), Lease: lease,
				Worker: "w", Resend: rng.IntN(2) == 0})
			if err != nil {
				t.Fatal(err)
			}
			claims = append(claims, cl)
		case op < 8 && len(claims) > 0:
			i := rng.IntN(len(claims))
			cl := claims[i]
			claims = slices.Delete(claims, i, i+1)
			var outs []store.Outcome
			for _, r := range cl.Rows {
				o := store.Outcome{PersonID: r.PersonID, LetterID: r.LetterID}
				switch rng.IntN(5) {
				case 0:
					o.State = breach.DeliverySent
				case 1:
					o.State, o.Code, o.Response = breach.DeliveryFailed, 550, "5.1.1 unknown [address]"
				case 2:
					o.State, o.Code, o.RetryAfter = breach.DeliveryPending, 451, time.Duration(rng.IntN(2))*time.Second
				case 3:
					o.State = breach.DeliveryUnknown
				default:
					o.Release = true
				}
				outs = append(outs, o)
			}
			var through int64
			if len(cl.Rows) > 0 && rng.IntN(2) == 0 {
				through = cl.Rows[rng.IntN(len(cl.Rows))].PersonID
			}
			if _, err := f.st.RecordOutcomes(ctx, f.incident, cl.Token, shard, "w", outs, through, nil); err != nil {
				t.Fatal(err)
			}
		default:
			time.Sleep(2 * time.Millisecond)
			if _, _, err := f.st.SweepExpired(ctx, scope); err != nil {
				t.Fatal(err)
			}
		}
		f.checkCounts(t, fmt.Sprintf("step %d", step))
	}
	c := f.checkCounts(t, "end")
	if c.Total() != f.n {
		t.Fatalf("counts %+v total %d", c, c.Total())
	}
	var shards int
	if err := f.st.Pool.QueryRow(ctx, `SELECT count(*) FROM delivery_counts WHERE incident_id = $1`, f.incident).Scan(&shards); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	if shards < 2 {
		t.Errorf("%d counter shards", shards)
	}
}
