package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// The reminder rounds on a real Postgres: who is in a round is decided by
// account_resets.completed_at when the round starts.

var resetStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func atDay(n float64) time.Time { return resetStart.Add(time.Duration(n * 24 * float64(time.Hour))) }

// accounts gives people 1..n an account_resets row, as the credential track
// makes them (done: the reset was forced).
func (f *deliveryFixture) accounts(t *testing.T, ids ...int64) {
	t.Helper()
	_, err := f.st.Pool.Exec(context.Background(), `INSERT INTO account_resets (incident_id, person_id, state, done_at, account_index)
		SELECT $1, id, 'done', $3, int8send(id) FROM unnest($2::bigint[]) AS id`, f.incident, ids, resetStart)
	if err != nil {
		t.Fatal(err)
	}
}

func (f *deliveryFixture) completeAt(t *testing.T, at time.Time, ids ...int64) {
	t.Helper()
	_, err := f.st.Pool.Exec(context.Background(), `UPDATE account_resets SET completed_at = $3
		WHERE incident_id = $1 AND person_id = ANY($2::bigint[])`, f.incident, ids, at)
	if err != nil {
		t.Fatal(err)
	}
}

// approvedReminder saves a reminder drafted by the DPO and approved by approverB.
func (f *deliveryFixture) approvedReminder(t *testing.T, lang breach.Language) breach.LetterVersion {
	t.Helper()
	var l breach.LetterVersion
	err := f.st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		slot, err := tx.PrepareLetterOf(ctx, dpo, breach.LetterReminder, f.incident, lang, 0)
		if err != nil {
			return err
		}
		l, err = tx.SaveReminderVersion(ctx, dpo, slot, breach.ReminderFields{Language: lang, Subject: "Reminder", HowToReset: "Steps."}, "rhash-"+string(lang))
		if err != nil {
			return err
		}
		l, err = tx.DecideLetter(ctx, approverB, f.incident, l.ID, true, "ok")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startRound starts reminder round at the store clock's time and seeds its
// ledger over every person, as the partitions do.
func (f *deliveryFixture) startRound(t *testing.T, round int) store.ReminderStart {
	t.Helper()
	ctx := context.Background()
	var rs store.ReminderStart
	err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		rs, err = tx.StartReminderSend(ctx, breach.System, store.StartReminderInput{IncidentID: f.incident, Round: round, Partitions: 2, Policy: breach.PolicyResend})
		return err
	})
	if err != nil {
		t.Fatalf("start round %d: %v", round, err)
	}
	return rs
}

func (f *deliveryFixture) seedRound(t *testing.T, rs store.ReminderStart, round int) int64 {
	t.Helper()
	var total int64
	err := f.st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		for shard, r := range [][2]int64{{1, f.n / 2}, {f.n/2 + 1, f.n}} {
			n, err := tx.SeedReminderLedger(ctx, f.incident, rs.Send.ID, round, rs.Letters, r[0], r[1], shard)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func (f *deliveryFixture) roundPeople(t *testing.T, round int) []int64 {
	t.Helper()
	rows, err := f.st.Pool.Query(context.Background(), `SELECT person_id FROM ledger WHERE incident_id = $1 AND round = $2 ORDER BY person_id`, f.incident, round)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// TestReminderRoundsFollowCompletions: people who completed the reset before
// day 7 get no reminder 1; those who completed it between day 7 and day 21
// get reminder 1 but not reminder 2; one who completed it after round 1
// started (before its rows were made) still gets reminder 1; people without
// an account get none. Reminder 2 reuses reminder 1's letter version and is
// still a send, and rows, of its own.
func TestReminderRoundsFollowCompletions(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 12, breach.RiskHigh) // 3, 6, 9, 12 read English
	clock := resetStart
	f.st.Now = func() time.Time { return clock }
	f.accounts(t, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) // 11 and 12 have no account
	fr := f.approvedReminder(t, breach.French)
	f.completeAt(t, atDay(3), 1, 2)

	// Day 7: English readers are pending too, and no English reminder is
	// approved: nothing starts, the error names the letters.
	clock = atDay(7)
	err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.StartReminderSend(ctx, breach.System, store.StartReminderInput{IncidentID: f.incident, Round: 1, Partitions: 2, Policy: breach.PolicyResend})
		return err
	})
	var be *breach.Error
	if !errors.As(err, &be) || be.Code != breach.ErrConflict || be.Field != "letters" {
		t.Fatalf("start without an English reminder: %v", err)
	}
	if sends, _ := f.st.Sends(ctx, f.incident); len(sends) != 0 {
		t.Fatalf("a refused start stored %d sends", len(sends))
	}
	en := f.approvedReminder(t, breach.English)

	r1 := f.startRound(t, 1)
	if r1.Send == nil || r1.People != 8 || r1.Send.Kind != breach.LetterReminder || r1.Send.Round != 1 || len(r1.Letters) != 2 {
		t.Fatalf("round 1: %+v", r1)
	}
	f.completeAt(t, atDay(7.1), 6) // completed after round 1 started, before its rows were made
	if n := f.seedRound(t, r1, 1); n != 8 {
		t.Errorf("round 1 seeded %d rows, want 8", n)
	}
	if got, want := f.roundPeople(t, 1), []int64{3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("round 1 people %v, want %v", got, want)
	}
	err = f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.StartReminderSend(ctx, breach.System, store.StartReminderInput{IncidentID: f.incident, Round: 1, Partitions: 2, Policy: breach.PolicyResend})
		return err
	})
	if !errors.As(err, &be) || be.Code != breach.ErrConflict {
		t.Errorf("round 1 started twice: %v", err)
	}
	if err := f.st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.SetSendState(ctx, breach.System, r1.Send.ID, breach.SendCompleted, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	clock = atDay(10)
	f.completeAt(t, atDay(10), 3, 4)
	clock = atDay(21)
	r2 := f.startRound(t, 2)
	if r2.Send == nil || r2.People != 5 || r2.Send.Seq != r1.Send.Seq+1 || r2.Letters[0].ID != fr.ID || r2.Letters[1].ID != en.ID {
		t.Fatalf("round 2: %+v %+v", r2, r2.Send)
	}
	if n := f.seedRound(t, r2, 2); n != 5 {
		t.Errorf("round 2 seeded %d rows, want 5", n)
	}
	if got, want := f.roundPeople(t, 2), []int64{5, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("round 2 people %v, want %v", got, want)
	}
	// Same person, same letter version, two rounds: two rows.
	var rows int
	if err := f.st.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger WHERE incident_id = $1 AND person_id = 5 AND letter_version_id = $2`,
		f.incident, fr.ID).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("person 5 has %d rows of the French reminder, want 2 (%v)", rows, err)
	}
	// The claim of a round takes its own rows only.
	claim, err := f.st.ClaimRows(ctx, store.ClaimSpec{LedgerScope: store.LedgerScope{IncidentID: f.incident, Letters: []string{fr.ID, en.ID},
		From: 1, To: f.n, Shard: 0, Round: 2}, Limit: 100, Lease: time.Minute, Worker: "w"})
	if err != nil || len(claim.Rows) != 5 {
		t.Fatalf("claimed %d rows of round 2, want 5: %v", len(claim.Rows), err)
	}
	counts, err := f.st.RoundCounts(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	want := []breach.SendCounts{{Round: 1, Counts: breach.DeliveryCounts{Pending: 8}}, {Round: 2, Counts: breach.DeliveryCounts{Pending: 0, Sending: 5}}}
	if !slices.Equal(counts, want) {
		t.Errorf("round counts %+v, want %+v", counts, want)
	}
	// The notice's status is not the reminders'.
	if st, err := f.st.DeliveryStatus(ctx, f.incident); err != nil || st.Send != nil || st.Counts.Total() != 0 {
		t.Errorf("notice status %+v %v", st, err)
	}

	// Round 3 when everyone with an account completed: skipped, audited.
	f.completeAt(t, atDay(30), 5, 7, 8, 9, 10)
	clock = atDay(35)
	if r3 := f.startRound(t, 3); r3.Send != nil || r3.People != 0 {
		t.Errorf("round 3: %+v", r3)
	}
	audit, err := f.st.AuditLog(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if a.Action == "reminder.started" || a.Action == "reminder.skipped" {
			actions = append(actions, a.Action)
		}
	}
	if !slices.Equal(actions, []string{"reminder.started", "reminder.started", "reminder.skipped"}) {
		t.Errorf("audited %v", actions)
	}
}
