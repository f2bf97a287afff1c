package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

// accountsFixture is an incident with n people imported (sealed under the
// incident's key) and numbered 1..n; every person whose ID is not a
// multiple of 10 has an account "acct-<id>".
type accountsFixture struct {
	st       *store.Store
	v        *vault.Vault
	incident string
	n        int64
}

func hasAccount(id int64) bool { return id%10 != 0 }

func newAccountsFixture(t *testing.T, n int64) *accountsFixture {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	inc, _, err := st.CreateIncident(ctx, dpo, sampleInput(fmt.Sprintf("accounts-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	// Through the real import: person IDs 1..n, contact data and account IDs
	// sealed under the incident's own key.
	rows := func(yield func(store.PersonRow, error) bool) {
		for id := int64(1); id <= n; id++ {
			r := store.PersonRow{Line: id + 1, Email: fmt.Sprintf("p%d@example.org", id), Name: fmt.Sprintf("Person %d", id),
				Language: breach.French}
			if hasAccount(id) {
				r.AccountID = fmt.Sprintf("acct-%d", id)
			}
			if !yield(r, nil) {
				return
			}
		}
	}
	if _, err := st.ImportPeople(ctx, dpo, inc.ID, rows, v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// The import numbers people in blind-index order; renumber them so that
	// person k is line k (found by the blind index of p<k>@example.org),
	// which the tests' ranges rely on.
	iv, err := st.IncidentVault(ctx, v, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ks []int64
	var idx [][]byte
	for k := int64(1); k <= n; k++ {
		ks, idx = append(ks, k), append(idx, iv.Index(fmt.Sprintf("p%d@example.org", k)))
	}
	// Through n+1..2n, so that no two rows ever share an ID.
	if _, err := st.Pool.Exec(ctx, `UPDATE people p SET id = $4 + u.k FROM unnest($2::bytea[], $3::bigint[]) AS u(idx, k)
		WHERE p.incident_id = $1 AND p.email_index = u.idx`, inc.ID, idx, ks, n); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET id = id - $2 WHERE incident_id = $1`, inc.ID, n); err != nil {
		t.Fatal(err)
	}
	return &accountsFixture{st: st, v: v, incident: inc.ID, n: n}
}

func (f *accountsFixture) start(t *testing.T) store.AccountRange {
	t.Helper()
	var rng store.AccountRange
	_, err := f.st.Do(context.Background(), store.Op{Key: "start-" + f.incident}, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		var err error
		_, rng, err = tx.StartCredentialTrack(ctx, dpo, store.StartTrackInput{IncidentID: f.incident,
			Config: json.RawMessage(`{"kind":"webhook","webhook":{"url":"https://idp.example.org/x","secret":"env:IDP_SECRET"}}`)})
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rng
}

func (f *accountsFixture) create(t *testing.T, from, to int64, shard int) int64 {
	t.Helper()
	var n int64
	_, err := f.st.Do(context.Background(), store.Op{Key: fmt.Sprintf("create-%s-%d-%d", f.incident, from, to)}, &n,
		func(ctx context.Context, tx *store.Tx) (any, error) {
			return tx.CreateResetRows(ctx, f.v, f.incident, from, to, shard)
		})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *accountsFixture) progress(t *testing.T) store.AccountsProgress {
	t.Helper()
	p, err := f.st.AccountsProgress(context.Background(), f.incident)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.st.CountResets(context.Background(), f.incident)
	if err != nil {
		t.Fatal(err)
	}
	if c != p.Counts {
		t.Fatalf("counters %+v, COUNT %+v", p.Counts, c)
	}
	return p
}

func TestResetRowsClaimOutcomesAndCounters(t *testing.T) {
	ctx := context.Background()
	f := newAccountsFixture(t, 100)
	rng := f.start(t)
	if rng.Accounts != 90 || rng.MinPerson != 1 || rng.MaxPerson != 99 {
		t.Fatalf("range %+v", rng)
	}
	// Started once only.
	_, err := f.st.Do(ctx, store.Op{Key: "start-again"}, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		_, _, err := tx.StartCredentialTrack(ctx, dpo, store.StartTrackInput{IncidentID: f.incident, Config: json.RawMessage(`{"kind":"webhook"}`)})
		return nil, err
	})
	if !isCode(err, breach.ErrConflict) {
		t.Fatalf("second start: %v", err)
	}
	// Two partitions make their rows; a retried chunk adds nothing.
	if n := f.create(t, 1, 50, 0); n != 45 {
		t.Fatalf("created %d, want 45", n)
	}
	if n := f.create(t, 51, 100, 1); n != 45 {
		t.Fatalf("created %d, want 45", n)
	}
	_, err = f.st.Do(ctx, store.Op{Key: "create-again"}, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		return tx.CreateResetRows(ctx, f.v, f.incident, 1, 50, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := f.progress(t); p.Counts.Pending != 90 || p.Counts.Total() != 90 {
		t.Fatalf("counts %+v", p.Counts)
	}

	// Two batches claim concurrently in the same range: never the same row.
	scope := store.ResetScope{IncidentID: f.incident, From: 1, To: 50, Shard: 0}
	var wg sync.WaitGroup
	claims := make([]store.ResetClaim, 2)
	tokens := []int64{store.NewClaimToken(), store.NewClaimToken()}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.st.ClaimResets(ctx, store.ResetClaimSpec{ResetScope: scope, Limit: 20, Lease: time.Minute, Worker: "w", Token: tokens[i]})
			if err != nil {
				t.Error(err)
			}
			claims[i] = c
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, c := range claims {
		for _, r := range c.Rows {
			if seen[r.PersonID] {
				t.Fatalf("person %d claimed twice", r.PersonID)
			}
			seen[r.PersonID] = true
			if r.Attempt != 1 {
				t.Fatalf("attempt %d", r.Attempt)
			}
		}
	}
	if len(seen) != 40 {
		t.Fatalf("claimed %d rows, want 40", len(seen))
	}
	// The account IDs open in memory for the claimed people.
	ids := make([]int64, 0, 20)
	for _, r := range claims[0].Rows {
		ids = append(ids, r.PersonID)
	}
	accts, err := f.st.ResetAccounts(ctx, f.v, f.incident, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if accts[id] != fmt.Sprintf("acct-%d", id) {
			t.Fatalf("person %d: account %q", id, accts[id])
		}
	}

	// Outcomes of the first claim: done, failed, retry later, released.
	c0 := claims[0].Rows
	outs := []store.ResetOutcome{
		{PersonID: c0[0].PersonID, State: breach.ResetDone},
		{PersonID: c0[1].PersonID, State: breach.ResetFailed, Reason: "not found"},
		{PersonID: c0[2].PersonID, State: breach.ResetPending, RetryAfter: time.Hour, Reason: "rate limited"},
		{PersonID: c0[3].PersonID, Release: true},
	}
	for _, r := range c0[4:] {
		outs = append(outs, store.ResetOutcome{PersonID: r.PersonID, State: breach.ResetDone})
	}
	audit := &store.AuditEntry{Actor: breach.System, Action: "credentials.batch", IncidentID: f.incident, After: map[string]any{"claimed": len(c0)}}
	res, err := f.st.RecordResetOutcomes(ctx, f.incident, tokens[0], 0, outs, audit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != int64(len(c0)-3) || res.Failed != 1 || res.Pending != 2 {
		t.Fatalf("recorded %+v", res)
	}
	// Another claim's token changes nothing.
	res, err = f.st.RecordResetOutcomes(ctx, f.incident, tokens[1], 0, []store.ResetOutcome{{PersonID: c0[4].PersonID, State: breach.ResetFailed}}, nil)
	if err != nil || res.Total() != 0 {
		t.Fatalf("foreign token: %+v %v", res, err)
	}
	rows, err := f.st.ResetRows(ctx, f.incident, c0[0].PersonID, c0[3].PersonID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]store.ResetRowView{}
	for _, r := range rows {
		byID[r.PersonID] = r
	}
	if r := byID[c0[1].PersonID]; r.State != breach.ResetFailed || r.Reason != "not found" {
		t.Fatalf("failed row %+v", r)
	}
	if r := byID[c0[3].PersonID]; r.State != breach.ResetPending || r.Attempt != 0 {
		t.Fatalf("released row %+v", r)
	}
	// The deferred row is not claimable before its time; the released one is.
	c, err := f.st.ClaimResets(ctx, store.ResetClaimSpec{ResetScope: scope, Limit: 50, Lease: time.Minute, Worker: "w", Token: store.NewClaimToken()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for _, r := range c.Rows {
		got[r.PersonID] = true
	}
	if got[c0[2].PersonID] || !got[c0[3].PersonID] {
		t.Fatalf("claim after outcomes: %v", got)
	}
	st, err := f.st.ResetRangeStatus(ctx, scope)
	if err != nil || st.Open == 0 || st.WakeAt.IsZero() {
		t.Fatalf("range status %+v %v", st, err)
	}

	// The second claim's batch dies: its lease ends and the sweep gives its
	// rows back to pending.
	if _, err := f.st.Pool.Exec(ctx, `UPDATE account_resets SET lease_until = now() - interval '1 second' WHERE claim = $1`, tokens[1]); err != nil {
		t.Fatal(err)
	}
	n, err := f.st.SweepExpiredResets(ctx, scope)
	if err != nil || n != int64(len(claims[1].Rows)) {
		t.Fatalf("swept %d (%v), want %d", n, err, len(claims[1].Rows))
	}
	p := f.progress(t)
	if p.Counts.Failed != 1 || p.Counts.Done != int64(len(c0)-3) {
		t.Fatalf("progress %+v", p.Counts)
	}
	// One audit row for the batch, none per account.
	log, err := f.st.AuditLog(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	if countActions(log, "credentials.batch") != 1 || countActions(log, "credentials.started") != 1 {
		t.Fatalf("audit %v", actions(log))
	}
}

func TestCompletionsMatchThroughTheBlindIndex(t *testing.T) {
	ctx := context.Background()
	f := newAccountsFixture(t, 40)
	f.start(t)
	f.create(t, 1, 40, 0)
	// Reset everyone.
	tok := store.NewClaimToken()
	c, err := f.st.ClaimResets(ctx, store.ResetClaimSpec{ResetScope: store.ResetScope{IncidentID: f.incident, From: 1, To: 40}, Limit: 100, Lease: time.Minute, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	var outs []store.ResetOutcome
	for _, r := range c.Rows {
		outs = append(outs, store.ResetOutcome{PersonID: r.PersonID, State: breach.ResetDone})
	}
	if _, err := f.st.RecordResetOutcomes(ctx, f.incident, tok, 0, outs, nil); err != nil {
		t.Fatal(err)
	}
	// No account ID is stored in clear.
	var clear int
	if err := f.st.Pool.QueryRow(ctx, `SELECT count(*) FROM account_resets WHERE position('acct-'::bytea in account_index) > 0`).Scan(&clear); err != nil || clear != 0 {
		t.Fatalf("account IDs in clear: %d %v", clear, err)
	}

	day1 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	report := []store.Completion{
		{AccountID: "acct-1", CompletedAt: day1},
		{AccountID: "acct-2", CompletedAt: day1.Add(23 * time.Hour)}, // 21 Nov in Paris
		{AccountID: "nobody"},
		{AccountID: "acct-10"}, // person 10 has no account
		{AccountID: "acct-3"},  // now
	}
	res, err := f.st.RecordCompletions(ctx, f.v, breach.Actor{UserID: "webhook"}, f.incident, report)
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 3 || res.Unknown != 2 || res.Already != 0 || !slices.Equal(res.UnknownAt, []int{2, 3}) {
		t.Fatalf("result %+v", res)
	}
	// Reported again, later: the first time is kept, nothing counted twice.
	res, err = f.st.RecordCompletions(ctx, f.v, breach.Actor{UserID: "webhook"}, f.incident, []store.Completion{{AccountID: "acct-1", CompletedAt: day1.Add(72 * time.Hour)}})
	if err != nil || res.Already != 1 || res.Matched != 0 {
		t.Fatalf("again: %+v %v", res, err)
	}
	rows, err := f.st.ResetRows(ctx, f.incident, 1, 1)
	if err != nil || rows[0].CompletedAt == nil || !rows[0].CompletedAt.Equal(day1) {
		t.Fatalf("person 1: %+v %v", rows, err)
	}
	// A status poll finds person 4 and person 1 (already) complete.
	if n, err := f.st.RecordStatusCompletions(ctx, f.incident, 0, []int64{1, 4}); err != nil || n != 1 {
		t.Fatalf("status completions %d %v", n, err)
	}
	cands, err := f.st.PollCandidates(ctx, f.incident, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cands, 1) || slices.Contains(cands, 4) || !slices.Contains(cands, 5) || slices.Contains(cands, 10) {
		t.Fatalf("candidates %v", cands)
	}
	p := f.progress(t)
	if p.Counts.Completed != 4 {
		t.Fatalf("completed %d", p.Counts.Completed)
	}
	var total int64
	days := map[string]int64{}
	for _, d := range p.Daily {
		days[d.Day] = d.Completed
		total += d.Completed
	}
	if days["2026-11-20"] != 1 || days["2026-11-21"] != 1 || total != 4 {
		t.Fatalf("daily %+v", p.Daily)
	}
	log, err := f.st.AuditLog(ctx, f.incident)
	if err != nil {
		t.Fatal(err)
	}
	if countActions(log, "accounts.completed") != 2 {
		t.Fatalf("audit %v", actions(log))
	}
	for _, r := range log {
		if b := string(r.After); containsAny(b, "acct-") {
			t.Fatalf("audit row %s holds an account ID: %s", r.Action, b)
		}
	}
}

func TestTrackStates(t *testing.T) {
	ctx := context.Background()
	f := newAccountsFixture(t, 5)
	f.start(t)
	move := func(key string, ch store.TrackChange) (store.CredentialTrack, error) {
		var tr store.CredentialTrack
		_, err := f.st.Do(ctx, store.Op{Key: key}, nil, func(ctx context.Context, tx *store.Tx) (any, error) {
			var err error
			tr, err = tx.SetTrackState(ctx, breach.System, ch)
			return nil, err
		})
		return tr, err
	}
	tr, err := move("p1", store.TrackChange{IncidentID: f.incident, State: breach.TrackPaused, Reason: "connector misconfigured", Error: "identity provider (webhook) misconfigured: webhook.url: no such endpoint"})
	if err != nil || tr.State != breach.TrackPaused || tr.LastError == "" || tr.LastErrorAt == nil {
		t.Fatalf("paused: %+v %v", tr, err)
	}
	if _, err := move("p2", store.TrackChange{IncidentID: f.incident, State: breach.TrackPolling}); !isCode(err, breach.ErrConflict) {
		t.Fatalf("paused -> polling: %v", err)
	}
	tr, err = move("r1", store.TrackChange{IncidentID: f.incident, State: breach.TrackRunning, Config: json.RawMessage(`{"kind":"webhook","webhook":{"url":"https://idp.example.org/y","secret":"env:IDP_SECRET"}}`)})
	if err != nil || tr.State != breach.TrackRunning || tr.Round != 2 || tr.LastError != "" || !containsAny(string(tr.Config), "/y") {
		t.Fatalf("resumed: %+v %v", tr, err)
	}
	if s, err := f.st.TrackState(ctx, f.incident); err != nil || s != breach.TrackRunning {
		t.Fatalf("state %s %v", s, err)
	}
	if tr, err = move("d1", store.TrackChange{IncidentID: f.incident, State: breach.TrackPolling}); err != nil || tr.ResetDoneAt == nil {
		t.Fatalf("polling: %+v %v", tr, err)
	}
	if tr, err = move("e1", store.TrackChange{IncidentID: f.incident, State: breach.TrackEnded}); err != nil || tr.EndedAt == nil {
		t.Fatalf("ended: %+v %v", tr, err)
	}
	log, _ := f.st.AuditLog(ctx, f.incident)
	for _, a := range []string{"credentials.paused", "credentials.resumed", "credentials.reset_done", "credentials.ended"} {
		if countActions(log, a) != 1 {
			t.Fatalf("audit %v: want one %s", actions(log), a)
		}
	}
}

func countActions(log []store.AuditRow, action string) int {
	n := 0
	for _, r := range log {
		if r.Action == action {
			n++
		}
	}
	return n
}

func actions(log []store.AuditRow) []string {
	var out []string
	for _, r := range log {
		out = append(out, r.Action)
	}
	return out
}

func containsAny(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }

func isCode(err error, c breach.Code) bool {
	var be *breach.Error
	return errors.As(err, &be) && be.Code == c
}
