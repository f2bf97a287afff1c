package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"iter"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

func dataVault(t testing.TB, spec string) *vault.Vault {
	t.Helper()
	v, err := vault.FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keySpec(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func seq(rows ...store.PersonRow) iter.Seq2[store.PersonRow, error] {
	return func(yield func(store.PersonRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func person(line int64, email, name string) store.PersonRow {
	return store.PersonRow{Line: line, Email: email, Name: name, Phone: "+33612345678", Language: breach.French, AccountID: "FT-" + email[:1]}
}

func newIncident(t *testing.T, st *store.Store, ref string) string {
	t.Helper()
	inc, _, err := st.CreateIncident(context.Background(), dpo, sampleInput(ref))
	if err != nil {
		t.Fatal(err)
	}
	return inc.ID
}

func TestImportPeopleSealsMergesAndAudits(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-1")
	v := dataVault(t, keySpec("k1", 1))

	res, err := st.ImportPeople(ctx, dpo, id, seq(
		person(2, "zoe.lefevre@example.org", "Zoé Lefèvre"),
		person(3, "jean.martin@example.com", "Jean Martin"),
		person(4, "zoe.lefevre@example.org", "Zoé L."), // duplicate of line 2
		store.PersonRow{Line: 5, Email: "john.smith@example.net", Language: breach.English},
		person(6, "zoe.lefevre@example.org", "Zoé"), // again
	), v, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 3 || res.Merged != 2 || res.Rejected != 0 || res.FirstID != 1 || res.LastID != 3 {
		t.Fatalf("result %+v", res)
	}
	if n, _ := st.PeopleCount(ctx, id); n != 3 {
		t.Fatalf("count %d", n)
	}
	if lo, hi, _ := st.PeopleIDRange(ctx, id); lo != 1 || hi != 3 {
		t.Fatalf("range %d-%d", lo, hi)
	}

	got, err := st.Recipients(ctx, v, id, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	// IDs are dense; within a window they follow the blind index, not the
	// line: compare by email.
	want := map[string]breach.Recipient{
		"zoe.lefevre@example.org": {Email: "zoe.lefevre@example.org", Name: "Zoé Lefèvre", Language: breach.French}, // the first row wins
		"jean.martin@example.com": {Email: "jean.martin@example.com", Name: "Jean Martin", Language: breach.French},
		"john.smith@example.net":  {Email: "john.smith@example.net", Language: breach.English},
	}
	ids := map[int64]bool{}
	for _, r := range got {
		w := want[r.Email]
		w.PersonID = r.PersonID
		if r != w {
			t.Fatalf("recipient %+v, want %+v", r, w)
		}
		ids[r.PersonID] = true
	}
	if len(got) != 3 || !ids[1] || !ids[2] || !ids[3] {
		t.Fatalf("recipients %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].PersonID <= got[i-1].PersonID {
			t.Fatal("recipients not in ID order")
		}
	}
	if part, _ := st.Recipients(ctx, v, id, 2, 2); len(part) != 1 || part[0].PersonID != 2 {
		t.Fatalf("range 2-2: %+v", part)
	}
	zoe, err := st.RecipientByEmail(ctx, v, id, "zoe.lefevre@example.org")
	if err != nil {
		t.Fatal(err)
	}
	var merged int
	if err := st.Pool.QueryRow(ctx, `SELECT merged FROM people WHERE incident_id = $1 AND id = $2`, id, zoe.PersonID).Scan(&merged); err != nil || merged != 2 {
		t.Fatalf("merged counter %d %v", merged, err)
	}

	r, err := st.RecipientByEmail(ctx, v, id, "jean.martin@example.com")
	if err != nil || r.Name != "Jean Martin" || r.Email != "jean.martin@example.com" {
		t.Fatalf("by email: %+v %v", r, err)
	}
	_, err = st.RecipientByEmail(ctx, v, id, "nobody@example.com")
	if code(err) != breach.ErrNotFound || strings.Contains(err.Error(), "nobody") {
		t.Fatalf("unknown email: %v", err)
	}

	// One audit row, counts only.
	rows, err := st.AuditLog(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if last.Action != "people.imported" || last.ActorID != dpo.UserID {
		t.Fatalf("audit %+v", last)
	}
	if string(last.After) != `{"loaded": 3, "merged": 2, "rejected": 0}` {
		t.Fatalf("audit after %s", last.After)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit chain %+v %v", v, err)
	}
}

func TestSealedColumnsHoldNoPlaintext(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-raw")
	v := dataVault(t, keySpec("k1", 1))
	secrets := []string{"zoe.lefevre@example.org", "Lefèvre", "+33612345678", "FT-z", "example.org"}
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "zoe.lefevre@example.org", "Zoé Lefèvre")), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}

	// The row as Postgres returns it, every column, and the sealed ones as
	// bytes (the contact record; email, full_name and phone are left NULL).
	var raw []byte
	var legacy int
	var hasAccount bool
	if err := st.Pool.QueryRow(ctx, `SELECT convert_to(p::text, 'UTF8') || contact,
		num_nonnulls(email, full_name, phone, account_id), has_account FROM people p`).Scan(&raw, &legacy, &hasAccount); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || legacy != 0 || !hasAccount {
		t.Fatalf("row of %d bytes, %d sealed columns of the old layout, has_account %v", len(raw), legacy, hasAccount)
	}
	// The record holds the four values, under the incident's key.
	var sealed, index []byte
	if err := st.Pool.QueryRow(ctx, `SELECT contact, email_index FROM people`).Scan(&sealed, &index); err != nil {
		t.Fatal(err)
	}
	iv, err := st.IncidentVault(ctx, v, id)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := iv.OpenContact(vault.IncidentKeyID, uuid.MustParse(id), index, sealed); err != nil ||
		c != (vault.ContactData{Email: "zoe.lefevre@example.org", Name: "Zoé Lefèvre", Phone: "+33612345678", AccountID: "FT-z"}) {
		t.Fatalf("contact record: %+v %v", c, err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) || bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(s))) {
			t.Fatalf("plaintext %q in the row", s)
		}
	}
	// The table's file on disk (heap pages), after a checkpoint.
	if _, err := st.Pool.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	var file []byte
	if err := st.Pool.QueryRow(ctx, `SELECT pg_read_binary_file(pg_relation_filepath($1))`,
		"people_"+strings.ReplaceAll(id, "-", "")).Scan(&file); err != nil {
		t.Fatal(err)
	}
	if len(file) == 0 {
		t.Fatal("empty heap file")
	}
	for _, s := range secrets {
		if bytes.Contains(file, []byte(s)) {
			t.Fatalf("plaintext %q in the heap file", s)
		}
	}
	// The staging table is gone.
	var staging int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = 'people_import'`).Scan(&staging); err != nil || staging != 0 {
		t.Fatalf("staging table left: %d %v", staging, err)
	}

	// Without the key, or with another one, nothing opens.
	other := dataVault(t, keySpec("k1", 9))
	if _, err := st.Recipients(ctx, other, id, 1, 1); err == nil {
		t.Fatal("another key opened the rows")
	} else {
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes %q: %v", s, err)
			}
		}
	}
	if _, err := st.Recipients(ctx, dataVault(t, keySpec("k2", 1)), id, 1, 1); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("unknown key id: %v", err)
	}
	// Copying a sealed record to another row does not open either.
	if _, err := st.ImportPeople(ctx, dpo, id, seq(store.PersonRow{Line: 2, Email: "jean@example.org", Name: "Jean"}), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT has_account FROM people WHERE id = 2`).Scan(&hasAccount); err != nil || hasAccount {
		t.Fatalf("has_account without an account ID: %v %v", hasAccount, err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET contact = (SELECT contact FROM people WHERE incident_id = $1 AND id = 1) WHERE incident_id = $1 AND id = 2`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recipients(ctx, v, id, 2, 2); err == nil {
		t.Fatal("a sealed value moved to another row opened")
	}
}

func TestImportAllOrNothingAndSkipInvalid(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-strict")
	v := dataVault(t, keySpec("k1", 1))
	rows := func() iter.Seq2[store.PersonRow, error] {
		return seq(
			person(2, "a@example.org", "A"),
			store.PersonRow{Line: 3, Reject: "email: not an address (local@domain)"},
			person(4, "b@example.org", "B"),
			store.PersonRow{Line: 7, Reject: "wrong column count: 2 fields, the header has 6"},
		)
	}
	before, _ := st.AuditLog(ctx, id)

	res, err := st.ImportPeople(ctx, dpo, id, rows(), v, store.ImportOptions{})
	if code(err) != breach.ErrInvalid || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("strict import: %v", err)
	}
	if res.Loaded != 0 || res.Rejected != 2 || len(res.Rejects) != 2 || res.Rejects[1] != (store.Reject{Line: 7, Reason: "wrong column count: 2 fields, the header has 6"}) {
		t.Fatalf("strict result %+v", res)
	}
	if n, _ := st.PeopleCount(ctx, id); n != 0 {
		t.Fatalf("strict import loaded %d", n)
	}
	if after, _ := st.AuditLog(ctx, id); len(after) != len(before) {
		t.Fatal("a failed import was audited as done")
	}

	res, err = st.ImportPeople(ctx, dpo, id, rows(), v, store.ImportOptions{SkipInvalid: true, MaxRejects: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 2 || res.Rejected != 2 || len(res.Rejects) != 1 || !res.RejectsTruncated {
		t.Fatalf("skip-invalid result %+v", res)
	}
	rowsA, _ := st.AuditLog(ctx, id)
	if a := rowsA[len(rowsA)-1]; string(a.After) != `{"loaded": 2, "merged": 0, "rejected": 2}` {
		t.Fatalf("audit %s", a.After)
	}
}

// TestRowsSealedColumnByColumnStillOpen: people loaded before migration 014
// have their email, name and phone sealed in columns of their own under the
// incident key; next to rows with a contact record they are read, found by
// email, merged into by a later import and emptied by the purge alike.
func TestRowsSealedColumnByColumnStillOpen(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-layouts")
	ring := dataVault(t, keySpec("k1", 1))
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "new@example.org", "Nouvelle")), ring, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	iv, err := st.IncidentVault(ctx, ring, id)
	if err != nil {
		t.Fatal(err)
	}
	incident := uuid.MustParse(id)
	idx := iv.Index("old@example.org")
	if _, err := st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id, email, full_name, phone, account_id, language)
		VALUES ($1, 2, $2, $3, $4, $5, $6, $7, 'en')`, id, idx, vault.IncidentKeyID,
		iv.Seal(incident, idx, vault.Email, []byte("old@example.org")),
		iv.Seal(incident, idx, vault.FullName, []byte("Ancienne")),
		iv.Seal(incident, idx, vault.Phone, []byte("+33612345678")),
		iv.Seal(incident, idx, vault.AccountID, []byte("FT-o"))); err != nil {
		t.Fatal(err)
	}
	all, err := st.Recipients(ctx, ring, id, 1, 2)
	if err != nil || len(all) != 2 || all[0].Email != "new@example.org" || all[0].Name != "Nouvelle" ||
		all[1].Email != "old@example.org" || all[1].Name != "Ancienne" || all[1].Language != breach.English {
		t.Fatalf("recipients: %+v %v", all, err)
	}
	if p, err := st.RecipientByEmail(ctx, ring, id, "old@example.org"); err != nil || p.PersonID != 2 || p.Name != "Ancienne" {
		t.Fatalf("by email: %+v %v", p, err)
	}
	res, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "old@example.org", "Encore"), person(3, "third@example.org", "Trois"),
		store.PersonRow{Line: 4, Email: "none@example.org", Name: "Sans compte"}), ring, store.ImportOptions{})
	if err != nil || res.Loaded != 2 || res.Merged != 1 || res.FirstID != 3 {
		t.Fatalf("second import: %+v %v", res, err)
	}
	// The credential track reads the account IDs of both forms, and only
	// of the people who have one.
	third, err := st.RecipientByEmail(ctx, ring, id, "third@example.org") // 3 or 4: a later import numbers in index order
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := st.ResetAccounts(ctx, ring, id, []int64{1, 2, 3, 4})
	if err != nil || len(accounts) != 3 || accounts[1] != "FT-n" || accounts[2] != "FT-o" || accounts[third.PersonID] != "FT-t" {
		t.Fatalf("account IDs: %v %v", accounts, err)
	}
	closeIncident(t, st, id, retention)
	if _, err := purge(st, id, "purge-layouts"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE incident_id = $1
		AND (num_nonnulls(contact, email, full_name, phone, account_id) > 0 OR has_account)`, id).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d people still hold contact data (%v)", left, err)
	}
}

func TestSecondImportContinuesIDsAndMergesIntoEarlierRows(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-twice")
	old := dataVault(t, keySpec("2025", 1))
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "a@example.org", "A"), person(3, "b@example.org", "B")), old, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// A rotated key ring: the incident's key, wrapped under the old key,
	// still unwraps, and seals, indexes and de-duplicates as before.
	rotated := dataVault(t, keySpec("2026", 2)+","+keySpec("2025", 1))
	res, err := st.ImportPeople(ctx, dpo, id, seq(
		person(2, "b@example.org", "B again"), person(3, "c@example.org", "C"), person(4, "b@example.org", "B thrice"),
	), rotated, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 1 || res.Merged != 2 || res.FirstID != 3 || res.LastID != 3 {
		t.Fatalf("second import %+v", res)
	}
	b, err := st.RecipientByEmail(ctx, rotated, id, "b@example.org")
	if err != nil || b.Name != "B" || b.PersonID > 2 {
		t.Fatalf("b after rotation: %+v %v", b, err)
	}
	var merged int
	_ = st.Pool.QueryRow(ctx, `SELECT merged FROM people WHERE incident_id = $1 AND id = $2`, id, b.PersonID).Scan(&merged)
	if merged != 2 {
		t.Fatalf("merged into the earlier row: %d", merged)
	}
	got, err := st.Recipients(ctx, rotated, id, 1, 3)
	if err != nil || len(got) != 3 || got[2].Email != "c@example.org" {
		t.Fatalf("recipients after rotation: %+v %v", got, err)
	}
	var keys []string
	r, _ := st.Pool.Query(ctx, `SELECT key_id FROM people WHERE incident_id = $1 ORDER BY id`, id)
	for r.Next() {
		var k string
		_ = r.Scan(&k)
		keys = append(keys, k)
	}
	// Every row is sealed under the incident's own key (migration 011),
	// which stays wrapped under the key that was current when it was made:
	// a rotation of the ring re-wraps it (RewrapIncidentKeys), rows never move.
	if strings.Join(keys, ",") != strings.Repeat(vault.IncidentKeyID+",", 2)+vault.IncidentKeyID {
		t.Fatalf("key ids %v", keys)
	}
	var wrapKey string
	if err := st.Pool.QueryRow(ctx, `SELECT key_id FROM incident_keys WHERE incident_id = $1`, id).Scan(&wrapKey); err != nil || wrapKey != "2025" {
		t.Fatalf("incident key wrapped under %q: %v", wrapKey, err)
	}
	for email, wantID := range map[string]int64{"a@example.org": 3 - b.PersonID, "c@example.org": 3} {
		p, err := st.RecipientByEmail(ctx, rotated, id, email)
		if err != nil || p.PersonID != wantID {
			t.Fatalf("by email after rotation: %+v %v", p, err)
		}
	}
}

func TestImportRefusedOnceLocked(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-locked")
	v := dataVault(t, keySpec("k1", 1))
	if at, err := st.PeopleLockedAt(ctx, id); err != nil || at != nil {
		t.Fatalf("fresh incident locked: %v %v", at, err)
	}
	lock := func() {
		if err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error { return st.LockPeople(ctx, tx, id) }); err != nil {
			t.Fatal(err)
		}
	}
	lock()
	first, _ := st.PeopleLockedAt(ctx, id)
	lock() // idempotent: the first time stays
	if again, _ := st.PeopleLockedAt(ctx, id); first == nil || !again.Equal(*first) {
		t.Fatalf("lock times %v %v", first, again)
	}
	_, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "a@example.org", "A")), v, store.ImportOptions{})
	if code(err) != breach.ErrConflict || !strings.Contains(err.Error(), "send") {
		t.Fatalf("import after lock: %v", err)
	}
	if err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return st.LockPeople(ctx, tx, "00000000-0000-4000-8000-000000000000")
	}); code(err) != breach.ErrNotFound {
		t.Fatalf("lock unknown incident: %v", err)
	}
	if _, err := st.ImportPeople(ctx, dpo, "00000000-0000-4000-8000-000000000000", seq(), v, store.ImportOptions{}); code(err) != breach.ErrNotFound {
		t.Fatalf("unknown incident: %v", err)
	}
}

func TestImportStopsOnAReadError(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-readerr")
	v := dataVault(t, keySpec("k1", 1))
	boom := errors.New("line 9: the gzip stream is corrupt")
	rows := func(yield func(store.PersonRow, error) bool) {
		for i := int64(2); i < 3000; i++ {
			if !yield(person(i, "p"+strings.Repeat("x", int(i%7))+string(rune('a'+i%26))+"@example.org", "P"), nil) {
				return
			}
		}
		yield(store.PersonRow{}, boom)
	}
	if _, err := st.ImportPeople(ctx, dpo, id, rows, v, store.ImportOptions{SkipInvalid: true}); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
	if n, _ := st.PeopleCount(ctx, id); n != 0 {
		t.Fatalf("a failed import loaded %d", n)
	}
}

func TestConcurrentImportsGetDenseIDs(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-concurrent")
	v := dataVault(t, keySpec("k1", 1))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for g := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rows []store.PersonRow
			for i := range 2000 {
				rows = append(rows, person(int64(i+2), string(rune('a'+g))+strings.Repeat("0", 4)+itoa(i)+"@example.org", "X"))
			}
			_, errs[g] = st.ImportPeople(ctx, dpo, id, seq(rows...), v, store.ImportOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n, distinct, hi int64
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT id), max(id) FROM people WHERE incident_id = $1`, id).Scan(&n, &distinct, &hi); err != nil {
		t.Fatal(err)
	}
	if n != 6000 || distinct != 6000 || hi != 6000 {
		t.Fatalf("ids: %d rows, %d distinct, max %d", n, distinct, hi)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestManyDuplicatesPauseTheCopy: more possible duplicates than the staging
// flush holds, interleaved with new people, in one import.
func TestManyDuplicatesPauseTheCopy(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-dups")
	v := dataVault(t, keySpec("k1", 1))
	var rows []store.PersonRow
	line := int64(1)
	for i := range 15000 {
		line++
		rows = append(rows, person(line, "p"+itoa(i)+"@example.org", "P"+itoa(i)))
		if i%2 == 0 { // a duplicate of an earlier person, every other row
			line++
			rows = append(rows, person(line, "p"+itoa(i/2)+"@example.org", "Dup"))
		}
	}
	res, err := st.ImportPeople(ctx, dpo, id, seq(rows...), v, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 15000 || res.Merged != 7500 || res.LastID != 15000 {
		t.Fatalf("%+v", res)
	}
	var sum, n, hi int64
	if err := st.Pool.QueryRow(ctx, `SELECT sum(merged), count(*), max(id) FROM people WHERE incident_id = $1`, id).Scan(&sum, &n, &hi); err != nil {
		t.Fatal(err)
	}
	if sum != 7500 || n != 15000 || hi != 15000 {
		t.Fatalf("merged %d rows %d max id %d", sum, n, hi)
	}
	// The first row of each email is the one kept.
	for _, email := range []string{"p0@example.org", "p3000@example.org", "p7499@example.org"} {
		if p, err := st.RecipientByEmail(ctx, v, id, email); err != nil || p.Name != "P"+strings.TrimSuffix(email[1:], "@example.org") {
			t.Fatalf("%s: %+v %v", email, p, err)
		}
	}
	// Every person has their own data (the import recycles its buffers
	// batch by batch: a row must never be written with another's).
	all, err := st.Recipients(ctx, v, id, 1, 15000)
	if err != nil || len(all) != 15000 {
		t.Fatalf("%d recipients, %v", len(all), err)
	}
	seen := map[string]bool{}
	for _, r := range all {
		if r.Name != "P"+strings.TrimSuffix(strings.TrimPrefix(r.Email, "p"), "@example.org") || seen[r.Email] {
			t.Fatalf("person %d: %q %q", r.PersonID, r.Email, r.Name)
		}
		seen[r.Email] = true
	}
}

// TestLargeImportSpansWindows: more rows than one sorted COPY window; IDs
// stay dense, each window after the one before in file order.
func TestLargeImportSpansWindows(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-large")
	v := dataVault(t, keySpec("k1", 1))
	const n = 70000
	rows := func(yield func(store.PersonRow, error) bool) {
		for i := range n {
			if !yield(store.PersonRow{Line: int64(i + 2), Email: "w" + itoa(i) + "@example.org", Language: breach.French}, nil) {
				return
			}
		}
	}
	res, err := st.ImportPeople(ctx, dpo, id, rows, v, store.ImportOptions{})
	if err != nil || res.Loaded != n || res.LastID != n {
		t.Fatalf("%+v %v", res, err)
	}
	var cnt, distinct, lo, hi int64
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT id), min(id), max(id) FROM people WHERE incident_id = $1`, id).Scan(&cnt, &distinct, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if cnt != n || distinct != n || lo != 1 || hi != n {
		t.Fatalf("%d rows, %d ids, %d-%d", cnt, distinct, lo, hi)
	}
	// The first window (4096 rows) holds the first rows of the file, the
	// last one the last rows.
	p, err := st.RecipientByEmail(ctx, v, id, "w0@example.org")
	if err != nil || p.PersonID > 4096 {
		t.Fatalf("first row: %+v %v", p, err)
	}
	p, err = st.RecipientByEmail(ctx, v, id, "w69999@example.org")
	if err != nil || p.PersonID <= n-32768 {
		t.Fatalf("last row: %+v %v", p, err)
	}
}

// The first import of an incident loads a partition of its own and gives it
// its primary key before attaching it (migration people_partitions); a
// failed first import leaves no partition behind, and the next one makes it
// again. The unique index on the blind index comes with the first import
// that has rows to merge, or with the next import (store.buildKeys).
func TestFirstImportMakesTheIncidentsPartitionWithItsKeys(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	id := newIncident(t, st, "people-partition")
	v := dataVault(t, keySpec("k1", 1))
	part := "people_" + strings.ReplaceAll(id, "-", "")
	partitions := func() (n int) {
		_ = st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'people'::regclass AND inhrelid::regclass::text = $1`, part).Scan(&n)
		return n
	}

	// A rejected row: nothing loads, and the partition made on the way is gone.
	bad := store.PersonRow{Line: 3, Reject: "email: missing"}
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "a@example.org", "A"), bad), v, store.ImportOptions{}); err == nil {
		t.Fatal("import with a reject succeeded")
	}
	var exists bool
	if err := st.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, part).Scan(&exists); err != nil || exists {
		t.Fatalf("partition left after a failed import: %v %v", exists, err)
	}

	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "a@example.org", "A"), person(3, "b@example.org", "B")), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := partitions(); n != 1 {
		t.Fatalf("attached partitions named %s: %d", part, n)
	}
	uniqueIndexes := func(part string) string {
		var keys []string
		rows, err := st.Pool.Query(ctx, `SELECT pg_get_indexdef(indexrelid) FROM pg_index
			WHERE indrelid = $1::regclass AND indisunique ORDER BY indisprimary DESC`, part)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			_ = rows.Scan(&k)
			keys = append(keys, k[strings.Index(k, " USING ")+1:])
		}
		return strings.Join(keys, "; ")
	}
	if k := uniqueIndexes(part); k != "USING btree (id)" {
		t.Fatalf("partition keys after the first import: %v", k)
	}
	// The primary key holds: a second row with an ID already taken is refused.
	_, err := st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id) VALUES ($1, 1, '\x00', 'k1')`, id)
	if err == nil {
		t.Fatal("duplicate person ID accepted")
	}
	// The next import builds the unique index on the blind index before it
	// loads anything, and merges through it.
	res, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "b@example.org", "B again"), person(3, "c@example.org", "C")), v, store.ImportOptions{})
	if err != nil || res.Loaded != 1 || res.Merged != 1 {
		t.Fatalf("second import: %+v %v", res, err)
	}
	if k := uniqueIndexes(part); k != "USING btree (id); USING btree (email_index)" {
		t.Fatalf("partition keys after the second import: %v", k)
	}
	var idx []byte
	if err := st.Pool.QueryRow(ctx, `SELECT email_index FROM people WHERE incident_id = $1 AND id = 1`, id).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id) VALUES ($1, 99, $2, 'k1')`, id, idx)
	if err == nil {
		t.Fatal("duplicate blind index accepted")
	}
	// A first import with rows to merge builds both keys.
	dup := newIncident(t, st, "people-partition-dups")
	res, err = st.ImportPeople(ctx, dpo, dup, seq(person(2, "a@example.org", "A"), person(3, "a@example.org", "A again")), v, store.ImportOptions{})
	if err != nil || res.Loaded != 1 || res.Merged != 1 {
		t.Fatalf("import with a duplicate: %+v %v", res, err)
	}
	if k := uniqueIndexes("people_" + strings.ReplaceAll(dup, "-", "")); k != "USING btree (id); USING btree (email_index)" {
		t.Fatalf("keys after an import with a duplicate: %v", k)
	}
	// A person of an incident that does not exist has no partition to go to.
	_, err = st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id) VALUES (gen_random_uuid(), 1, '\x00', 'k1')`)
	if err == nil {
		t.Fatal("person of an unknown incident accepted")
	}
}
