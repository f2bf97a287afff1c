package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

const retention = 90 * 24 * time.Hour

func closeIncident(t *testing.T, st *store.Store, id string, retention time.Duration) *time.Time {
	t.Helper()
	var due *time.Time
	err := st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) (err error) {
		_, due, err = tx.CloseIncident(ctx, dpo, id, "contained, all told", retention)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return due
}

func purge(st *store.Store, id, opKey string) (store.PurgeResult, error) {
	var res store.PurgeResult
	_, err := st.Do(context.Background(), store.Op{Key: opKey, WorkflowID: breach.WorkflowID(id), RunID: "run-1"}, &res,
		func(ctx context.Context, tx *store.Tx) (any, error) { return tx.PurgePeople(ctx, breach.System, id) })
	return res, err
}

func auditActions(t *testing.T, st *store.Store, id string) []string {
	t.Helper()
	rows, err := st.AuditLog(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Action
	}
	return out
}

// TestPurgeShredsContactDataAndKeepsTheRecord: people imported (one of them
// before incident keys existed, sealed under the ring), letters approved, a
// send seeded and completed, the incident closed; the purge empties the
// sealed columns and destroys the incident key in one transaction with its
// audit row; what the auditors need stays; the audit chain still verifies;
// contact data restored from a backup does not open; a second purge is a
// no-op.
func TestPurgeShredsContactDataAndKeepsTheRecord(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 0, breach.RiskHigh)
	st, id := f.st, f.incident
	incident := uuid.MustParse(id)
	ring := dataVault(t, keySpec("k1", 1))

	// A person loaded before migration 011: sealed under the ring (key_id k1).
	legacyIdx := ring.Index("ancien@example.org")
	_, err := st.Pool.Exec(ctx, `INSERT INTO people (incident_id, id, email_index, key_id, email, full_name, language)
		VALUES ($1, 1, $2, 'k1', $3, $4, 'fr')`, id, legacyIdx,
		ring.Seal(incident, legacyIdx, vault.Email, []byte("ancien@example.org")),
		ring.Seal(incident, legacyIdx, vault.FullName, []byte("Ancien Dupont")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.ImportPeople(ctx, dpo, id, seq(
		person(2, "zoe.lefevre@example.org", "Zoé Lefèvre"),
		person(3, "ancien@example.org", "Ancien D."), // the legacy person again: merged
		person(4, "jean.martin@example.com", "Jean Martin"),
		store.PersonRow{Line: 5, Email: "john.smith@example.net", Name: "John Smith", Language: breach.English, AccountID: "FT-9"},
	), ring, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 3 || res.Merged != 1 || res.FirstID != 2 {
		t.Fatalf("import %+v", res)
	}
	var keyRows, incidentKeyed int
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM incident_keys WHERE incident_id = $1 AND wrapped IS NOT NULL AND key_id = 'k1'),
		(SELECT count(*) FROM people WHERE incident_id = $1 AND key_id = $2)`, id, vault.IncidentKeyID).Scan(&keyRows, &incidentKeyed); err != nil {
		t.Fatal(err)
	}
	if keyRows != 1 || incidentKeyed != 3 {
		t.Fatalf("incident key rows %d, people under it %d", keyRows, incidentKeyed)
	}
	all, err := st.Recipients(ctx, ring, id, 1, 4)
	if err != nil || len(all) != 4 || all[0].Email != "ancien@example.org" || all[0].Name != "Ancien Dupont" {
		t.Fatalf("recipients before the purge: %d %v", len(all), err)
	}
	var names []string
	for _, r := range all[1:] {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "Jean Martin,John Smith,Zoé Lefèvre" {
		t.Fatalf("names before the purge: %v", names)
	}
	if r, err := st.RecipientByEmail(ctx, ring, id, "jean.martin@example.com"); err != nil || r.PersonID < 2 || r.Name != "Jean Martin" {
		t.Fatalf("look-up before the purge: %+v %v", r, err)
	}
	// The ring alone no longer opens the incident's rows: the key is the incident's.
	var sealedContact, sealedIdx []byte
	if err := st.Pool.QueryRow(ctx, `SELECT contact, email_index FROM people WHERE incident_id = $1 AND id = 2`, id).Scan(&sealedContact, &sealedIdx); err != nil {
		t.Fatal(err)
	}
	if _, err := ring.OpenContact(vault.IncidentKeyID, incident, sealedIdx, sealedContact); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("the ring opened an incident-key row: %v", err)
	}
	// A copy of the rows, as a backup taken now holds them.
	type backupRow struct {
		id                                         int64
		contact, email, fullName, phone, accountID []byte
	}
	var backup []backupRow
	rows, err := st.Pool.Query(ctx, `SELECT id, contact, email, full_name, phone, account_id FROM people WHERE incident_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b backupRow
		if err := rows.Scan(&b.id, &b.contact, &b.email, &b.fullName, &b.phone, &b.accountID); err != nil {
			t.Fatal(err)
		}
		backup = append(backup, b)
	}
	rows.Close()

	// The send: letters approved, send started (locks the people), ledger seeded.
	f.n = 4
	send, _ := f.sendReady(t)
	ledgerBefore, err := st.LedgerRows(ctx, id, 1, 4)
	if err != nil || len(ledgerBefore) != 4 {
		t.Fatalf("ledger: %d %v", len(ledgerBefore), err)
	}
	countsBefore := f.checkCounts(t, "before the purge")

	// Not before the closure, nor while the send is active.
	if _, err := purge(st, id, "purge-open"); code(err) != breach.ErrConflict {
		t.Fatalf("purge of an open incident: %v", err)
	}
	due := closeIncident(t, st, id, retention)
	if due == nil {
		t.Fatal("no purge date")
	}
	if p, err := st.Purge(ctx, id); err != nil || p.DueAt == nil || !p.DueAt.Equal(*due) || p.PurgedAt != nil {
		t.Fatalf("purge state after closing: %+v %v", p, err)
	}
	if _, err := purge(st, id, "purge-active"); code(err) != breach.ErrConflict {
		t.Fatalf("purge during an active send: %v", err)
	}
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.SetSendState(ctx, breach.System, send.ID, breach.SendCompleted, "")
		return err
	})
	if err != nil {
		t.Fatalf("a send running at closure can still end: %v", err)
	}
	registerBefore := registerEntry(t, st, id)
	auditBefore := auditActions(t, st, id)

	got, err := purge(st, id, "incident/"+id+"/purge")
	if err != nil {
		t.Fatal(err)
	}
	if got.People != 4 || got.Purged != 4 || got.Shredded != 3 || got.RingSealed != 1 || got.Key != "destroyed" ||
		got.WrappedUnder != "k1" || got.Already || got.Deliveries != countsBefore {
		t.Fatalf("purge result %+v", got)
	}

	// Contact data: gone from the table, and unreadable from a backup.
	var left int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM people WHERE incident_id = $1
		AND (num_nonnulls(contact, email, full_name, phone, account_id) > 0 OR has_account)`, id).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d people still hold contact data (%v)", left, err)
	}
	var wrapped []byte
	var destroyedAt *time.Time
	var destroyedBy, wrapKey string
	if err := st.Pool.QueryRow(ctx, `SELECT wrapped, destroyed_at, destroyed_by, key_id FROM incident_keys WHERE incident_id = $1`, id).
		Scan(&wrapped, &destroyedAt, &destroyedBy, &wrapKey); err != nil {
		t.Fatal(err)
	}
	if wrapped != nil || destroyedAt == nil || destroyedBy != breach.System.UserID || wrapKey != "k1" {
		t.Fatalf("incident key after the purge: %d bytes, at %v by %q under %q", len(wrapped), destroyedAt, destroyedBy, wrapKey)
	}
	if rs, err := st.Recipients(ctx, ring, id, 1, 4); err != nil || len(rs) != 0 {
		t.Fatalf("recipients after the purge: %d %v", len(rs), err)
	}
	if _, err := st.RecipientByEmail(ctx, ring, id, "jean.martin@example.com"); code(err) != breach.ErrNotFound {
		t.Fatalf("look-up after the purge: %v", err)
	}
	for _, b := range backup {
		if _, err := st.Pool.Exec(ctx, `UPDATE people SET contact = $3, email = $4, full_name = $5, phone = $6, account_id = $7
			WHERE incident_id = $1 AND id = $2`, id, b.id, b.contact, b.email, b.fullName, b.phone, b.accountID); err != nil {
			t.Fatal(err)
		}
	}
	if rs, err := st.Recipients(ctx, ring, id, 2, 4); !errors.Is(err, vault.ErrKeyDestroyed) || len(rs) != 0 ||
		strings.Contains(err.Error(), "Zoé") {
		t.Fatalf("restored rows after the purge: %d %v", len(rs), err)
	}
	iv, err := st.IncidentVault(ctx, ring, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iv.OpenContact(vault.IncidentKeyID, incident, sealedIdx, sealedContact); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("open after the purge: %v", err)
	}
	// The documented limit: the person sealed under the ring before incident
	// keys existed was deleted, not shredded; a backup of it opens with the ring.
	if rs, err := st.Recipients(ctx, ring, id, 1, 1); err != nil || len(rs) != 1 || rs[0].Email != "ancien@example.org" {
		t.Fatalf("legacy row restored: %+v %v", rs, err)
	}
	if _, err := st.Pool.Exec(ctx, `UPDATE people SET contact = NULL, email = NULL, full_name = NULL, phone = NULL, account_id = NULL WHERE incident_id = $1`, id); err != nil {
		t.Fatal(err)
	}

	// What the auditors need stays: people rows, ledger states and content
	// hashes, counts, the register entry; the audit chain verifies.
	if n, _ := st.PeopleCount(ctx, id); n != 4 {
		t.Fatalf("people count after the purge: %d", n)
	}
	ledgerAfter, err := st.LedgerRows(ctx, id, 1, 4)
	if err != nil || len(ledgerAfter) != len(ledgerBefore) {
		t.Fatalf("ledger after the purge: %d %v", len(ledgerAfter), err)
	}
	for i := range ledgerAfter {
		a, b := ledgerAfter[i], ledgerBefore[i]
		if a.PersonID != b.PersonID || a.State != b.State || a.ContentHash != b.ContentHash || a.ContentHash == "" {
			t.Fatalf("ledger row %d changed: %+v -> %+v", i, b, a)
		}
	}
	if c := f.checkCounts(t, "after the purge"); c != countsBefore {
		t.Fatalf("counts %+v, were %+v", c, countsBefore)
	}
	if after := registerEntry(t, st, id); after != registerBefore {
		t.Fatalf("the purge changed the register entry:\n%s\n%s", registerBefore, after)
	}
	if p, err := st.Purge(ctx, id); err != nil || p.PurgedAt == nil || p.PurgedBy != breach.System.UserID || p.DueAt == nil {
		t.Fatalf("purge state: %+v %v", p, err)
	}
	actions := auditActions(t, st, id)
	if len(actions) != len(auditBefore)+1 || actions[len(actions)-1] != "people.purged" {
		t.Fatalf("audit after the purge: %v", actions)
	}
	logRows, _ := st.AuditLog(ctx, id)
	last := logRows[len(logRows)-1]
	var after map[string]any
	if err := json.Unmarshal(last.After, &after); err != nil || after["shredded"] != float64(3) || after["ring_sealed"] != float64(1) ||
		after["key"] != "destroyed" {
		t.Fatalf("people.purged row: %s %v", last.After, err)
	}
	for _, secret := range []string{"example.org", "example.com", "Zoé", "Jean", "FT-", "+336"} {
		if strings.Contains(string(last.After), secret) {
			t.Fatalf("people.purged row quotes contact data: %s", last.After)
		}
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify after the purge: %+v %v", v, err)
	}

	// Purging again: by the same op key, the stored result; by another, a no-op.
	again, err := purge(st, id, "incident/"+id+"/purge")
	if err != nil || again.Purged != 4 {
		t.Fatalf("same op key: %+v %v", again, err)
	}
	again, err = purge(st, id, "purge-by-hand")
	if err != nil || !again.Already || again.Purged != 0 || again.Key != "destroyed" || again.PurgedAt.IsZero() {
		t.Fatalf("second purge: %+v %v", again, err)
	}
	if n := len(auditActions(t, st, id)); n != len(actions) {
		t.Fatalf("the second purge was audited: %v", auditActions(t, st, id))
	}
	// Nothing can be sealed for the incident any more.
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(9, "new@example.org", "New")), ring, store.ImportOptions{}); code(err) != breach.ErrConflict {
		t.Fatalf("import after the purge: %v", err)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify at the end: %+v %v", v, err)
	}
}

// TestPurgeWithoutPeople: an incident closed without people still gets its
// purge recorded (a tombstone key row, so no key can be made afterwards).
func TestPurgeWithoutPeople(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 0, "")
	closeIncident(t, f.st, f.incident, time.Hour)
	got, err := purge(f.st, f.incident, "p1")
	if err != nil || got.People != 0 || got.Purged != 0 || got.Key != "none" || got.Already {
		t.Fatalf("purge: %+v %v", got, err)
	}
	again, err := purge(f.st, f.incident, "p2")
	if err != nil || !again.Already {
		t.Fatalf("second purge: %+v %v", again, err)
	}
	if p, err := f.st.Purge(ctx, f.incident); err != nil || p.PurgedAt == nil {
		t.Fatalf("purge state %+v %v", p, err)
	}
	if v, err := f.st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify: %+v %v", v, err)
	}
}

// TestRewrapIncidentKeys: after a rotation of BREACH_DATA_KEY, re-wrapping
// moves every live incident key under the new key; the old one can then
// leave the ring and the people still open and are still found.
func TestRewrapIncidentKeys(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 0, "")
	st, id := f.st, f.incident
	old := dataVault(t, keySpec("2025", 1))
	if _, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "zoe@example.org", "Zoé")), old, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rotated := dataVault(t, keySpec("2026", 2)+","+keySpec("2025", 1))
	n, err := st.RewrapIncidentKeys(ctx, breach.System, rotated)
	if err != nil || n != 1 {
		t.Fatalf("rewrap: %d %v", n, err)
	}
	if n, err := st.RewrapIncidentKeys(ctx, breach.System, rotated); err != nil || n != 0 {
		t.Fatalf("rewrap again: %d %v", n, err)
	}
	newOnly := dataVault(t, keySpec("2026", 2))
	rs, err := st.Recipients(ctx, newOnly, id, 1, 1)
	if err != nil || len(rs) != 1 || rs[0].Name != "Zoé" {
		t.Fatalf("recipients with the new key only: %+v %v", rs, err)
	}
	if r, err := st.RecipientByEmail(ctx, newOnly, id, "zoe@example.org"); err != nil || r.PersonID != 1 {
		t.Fatalf("look-up with the new key only: %+v %v", r, err)
	}
	if _, err := st.Recipients(ctx, old, id, 1, 1); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("the retired key still unwraps: %v", err)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify: %+v %v", v, err)
	}
}

// registerEntry is the incident's register entry, as JSON.
func registerEntry(t *testing.T, st *store.Store, id string) string {
	t.Helper()
	reg, err := st.Register(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range reg {
		if e.Incident.ID == id {
			b, _ := json.Marshal(e)
			return string(b)
		}
	}
	t.Fatalf("incident %s not in the register", id)
	return ""
}

// TestClosedIncidentIsFrozen: once closed, every change to the incident is
// refused with a conflict (drafts, their decisions, filings, assessments,
// aware_at, letters and their decisions, sends, imports), the register entry
// stays as it was, and the database refuses writes that bypass the store.
func TestClosedIncidentIsFrozen(t *testing.T) {
	ctx := context.Background()
	f := newDeliveryFixture(t, 3, breach.RiskHigh)
	st, id := f.st, f.incident
	inc, err := st.GetIncident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	gdpr := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial}
	comp := breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageComplementary}
	save := func(key breach.DraftKey, base int) (breach.DraftVersion, error) {
		var d breach.DraftVersion
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			slot, err := tx.PrepareDraft(ctx, dpo, id, key, base)
			if err != nil {
				return err
			}
			html := []byte(fmt.Sprintf("<p>v%d</p>", slot.Version))
			sum := sha256.Sum256(html)
			d, err = tx.SaveDraftVersion(ctx, dpo, slot, breach.DraftFields{Language: breach.French, Nature: "x"}, html, nil, fmt.Sprintf("%x", sum))
			return err
		})
		return d, err
	}
	decide := func(draftID string) error {
		return st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.DecideDraft(ctx, approver, id, draftID, true, "ok")
			return err
		})
	}
	approved, err := save(gdpr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := decide(approved.ID); err != nil {
		t.Fatal(err)
	}
	pending, err := save(comp, 0)
	if err != nil {
		t.Fatal(err)
	}
	fr := f.approvedLetter(t, breach.French)
	en := f.approvedLetter(t, breach.English)
	var pendingLetter breach.LetterVersion
	err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		slot, err := tx.PrepareLetter(ctx, dpo, id, breach.French, fr.Version)
		if err != nil {
			return err
		}
		pendingLetter, err = tx.SaveLetterVersion(ctx, dpo, slot, letterFields(breach.French), "hash-fr-2")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	closeIncident(t, st, id, retention)
	before := registerEntry(t, st, id)
	auditBefore := auditActions(t, st, id)

	refused := map[string]error{
		"new draft": func() error { _, err := save(comp, 0); return err }(),
		"draft version": func() error {
			_, err := save(comp, pending.Version)
			return err
		}(),
		"draft decision": decide(pending.ID),
		"filing": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.RecordFiling(ctx, dpo, breach.Filing{IncidentID: id, Key: gdpr, DraftVersionID: approved.ID, FiledAt: time.Now(), Channel: "cnil_online"})
			return err
		}),
		"assessment": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.RecordAssessment(ctx, dpo, breach.AssessmentRecord{IncidentID: id, Facts: inc.Facts(),
				Proposed: breach.Assessment{Risk: breach.RiskHigh}, Decided: breach.RiskNone, Reason: "late change"})
			return err
		}),
		"aware_at": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.ChangeAwareAt(ctx, dpo, id, inc.AwareAt.Add(time.Hour), "late change")
			return err
		}),
		"close again": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, _, err := tx.CloseIncident(ctx, dpo, id, "again", retention)
			return err
		}),
		"letter": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.PrepareLetter(ctx, dpo, id, breach.English, en.Version)
			return err
		}),
		"letter decision": st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.DecideLetter(ctx, approverB, id, pendingLetter.ID, true, "ok")
			return err
		}),
		"send": func() error {
			_, err := f.start(t, []breach.ApprovedLetter{en}, "")
			return err
		}(),
		"import": func() error {
			_, err := st.ImportPeople(ctx, dpo, id, seq(person(2, "late@example.org", "Late")), dataVault(t, keySpec("k1", 1)), store.ImportOptions{})
			return err
		}(),
	}
	for what, err := range refused {
		if code(err) != breach.ErrConflict || !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s on a closed incident: %v", what, err)
		}
	}
	// Past the store: the triggers of migration 011.
	for what, sql := range map[string]string{
		"update incident":   `UPDATE incidents SET title = 'rewritten' WHERE id = $1`,
		"insert assessment": `INSERT INTO assessments (incident_id, facts, proposal, decided, overridden, decided_by) VALUES ($1, '{}', '{}', 'none', true, 'x')`,
		"update draft":      `UPDATE draft_versions SET state = 'approved' WHERE incident_id = $1`,
		"delete draft":      `DELETE FROM draft_versions WHERE incident_id = $1`,
		"insert draft": `INSERT INTO draft_versions (incident_id, regime, stage, seq, version, state, fields, drafted_by, edited_by, html, content_hash)
			VALUES ($1, 'gdpr', 'complementary', 9, 1, 'pending', '{}', 'x', 'x', '', 'h')`,
	} {
		_, err := st.Pool.Exec(ctx, sql, id)
		if err == nil || !strings.Contains(err.Error(), "frozen") {
			t.Errorf("%s bypassing the store: %v", what, err)
		}
	}
	if after := registerEntry(t, st, id); after != before {
		t.Fatalf("register entry changed after closing:\n%s\n%s", before, after)
	}
	if after := auditActions(t, st, id); len(after) != len(auditBefore) {
		t.Fatalf("refused changes were audited: %v", after[len(auditBefore):])
	}
	// Other incidents are not affected by the triggers.
	other := newIncident(t, st, "not-closed")
	if _, err := st.Pool.Exec(ctx, `UPDATE incidents SET title = 'fine' WHERE id = $1`, other); err != nil {
		t.Fatalf("open incident: %v", err)
	}
}
