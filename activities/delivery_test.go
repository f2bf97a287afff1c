package activities_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

// fakeLetters renders a small letter; its content hash is hash.
type fakeLetters struct{ hash string }

func (f *fakeLetters) RenderLetter(_ context.Context, in activities.LetterInput) (activities.RenderedLetter, error) {
	return activities.RenderedLetter{Subject: in.Fields.Subject, Text: []byte("Bonjour " + in.Recipient.Name + ",\n"),
		HTML: []byte("<p>Bonjour</p>")}, nil
}

func (f *fakeLetters) ContentHash(breach.Incident, breach.LetterFields, int) string { return f.hash }

// sendFixture is an incident with n imported people, both letters approved
// with content hash "h1", and a started send with its ledger made.
type sendFixture struct {
	a       *activities.Activities
	st      *store.Store
	inc     breach.Incident
	send    activities.SendRef
	letters []string
	sink    *smtptest.Server
	n       int64
}

func newSendFixture(t *testing.T, n int64) *sendFixture {
	t.Helper()
	ctx := context.Background()
	a, _, inc := newEnv(t)
	st := a.Store
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	rows := func(yield func(store.PersonRow, error) bool) {
		for i := range n {
			lang := breach.French
			if i%4 == 0 {
				lang = breach.English
			}
			if !yield(store.PersonRow{Line: i + 2, Email: fmt.Sprintf("person%d@example.org", i), Name: fmt.Sprintf("Person %d", i), Language: lang}, nil) {
				return
			}
		}
	}
	if _, err := st.ImportPeople(ctx, dpo, inc.ID, iter.Seq2[store.PersonRow, error](rows), v, store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `INSERT INTO assessments (incident_id, facts, proposal, decided, overridden, decided_by)
		VALUES ($1, '{}', '{}', 'high', false, $2)`, inc.ID, dpo.UserID); err != nil {
		t.Fatal(err)
	}
	a.Vault, a.Letters = v, &fakeLetters{hash: "h1"}
	var approved []breach.ApprovedLetter
	for i, lang := range []breach.Language{breach.French, breach.English} {
		f := breach.LetterFields{Language: lang, Subject: "Subject", WhatHappened: "x", Consequences: "x", MeasuresTaken: "x", PasswordReset: true}
		ref, err := a.SaveLetter(ctx, activities.SaveLetterInput{OpKey: fmt.Sprintf("save-%d", i), IncidentID: inc.ID, Language: lang, Actor: dpo, Fields: f})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.DecideLetter(ctx, activities.DecideLetterInput{OpKey: fmt.Sprintf("decide-%d", i), IncidentID: inc.ID, LetterID: ref.ID, Actor: approver, Approve: true}); err != nil {
			t.Fatal(err)
		}
		approved = append(approved, breach.ApprovedLetter{ID: ref.ID, Language: lang, Version: ref.Version, ContentHash: ref.ContentHash})
	}
	send, err := a.StartSend(ctx, activities.StartSendInput{OpKey: "start", IncidentID: inc.ID, Actor: dpo, Letters: approved,
		Policy: breach.PolicyResend, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.SeedLedger(ctx, activities.SeedInput{OpKey: "seed", IncidentID: inc.ID, SendID: send.ID, Letters: send.Letters, From: 1, To: n}); err != nil || got != n {
		t.Fatalf("seed: %d %v", got, err)
	}
	sink := smtptest.Start(t, smtptest.Options{})
	a.Mail, err = mail.NewSender(mail.Config{Host: sink.Host(), Port: sink.Port(), TLS: mail.TLSNone, From: "notifications@agence.example"})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(send.Letters))
	for i, l := range send.Letters {
		ids[i] = l.ID
	}
	return &sendFixture{a: a, st: st, inc: inc, send: send, letters: ids, sink: sink, n: n}
}

func (f *sendFixture) batch() activities.SendBatchInput {
	return activities.SendBatchInput{IncidentID: f.inc.ID, SendID: f.send.ID, Letters: f.letters, Policy: breach.PolicyResend,
		From: 1, To: f.n, Cursor: 1, Limit: int(f.n), Chunk: 7}
}

func (f *sendFixture) counts(t *testing.T) breach.DeliveryCounts {
	t.Helper()
	c, err := f.st.CountLedger(context.Background(), f.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if counters, _ := f.st.DeliveryCounts(context.Background(), f.inc.ID); counters != c {
		t.Fatalf("counters %+v, COUNT %+v", counters, c)
	}
	return c
}

func TestSendBatchSendsEveryoneOnceAndEndsTheRange(t *testing.T) {
	f := newSendFixture(t, 30)
	res, err := f.a.SendBatch(context.Background(), f.batch())
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 30 || res.Next != 31 || res.Open != 0 || f.sink.Count() != 30 {
		t.Fatalf("result %+v, relay %d", res, f.sink.Count())
	}
	if c := f.counts(t); c.Sent != 30 {
		t.Fatalf("counts %+v", c)
	}
	// A second batch finds nothing to do.
	res, err = f.a.SendBatch(context.Background(), f.batch())
	if err != nil || res.Claimed != 0 || f.sink.Count() != 30 {
		t.Fatalf("second batch: %+v %v", res, err)
	}
}

// TestSendBatchRefusesALetterThatNoLongerRendersAsApproved: when the letter
// renders differently from the approved version (its content hash changed),
// nothing is sent, the rows go back to pending, and the failure is final.
func TestSendBatchRefusesALetterThatNoLongerRendersAsApproved(t *testing.T) {
	f := newSendFixture(t, 10)
	f.a.Letters = &fakeLetters{hash: "h2"}
	_, err := f.a.SendBatch(context.Background(), f.batch())
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != activities.ErrorType(breach.ErrConflict) {
		t.Fatalf("error %v", err)
	}
	if f.sink.Count() != 0 {
		t.Fatalf("%d messages sent", f.sink.Count())
	}
	if c := f.counts(t); c.Pending != 10 {
		t.Fatalf("counts %+v", c)
	}
}

// TestSendBatchGivesBackItsRowsWhenTheRelayIsDown: the batch fails
// (retryable) and its rows are pending again, not held until a lease ends.
func TestSendBatchGivesBackItsRowsWhenTheRelayIsDown(t *testing.T) {
	f := newSendFixture(t, 10)
	f.sink.Stop()
	_, err := f.a.SendBatch(context.Background(), f.batch())
	var ae *temporal.ApplicationError
	if err == nil || (errors.As(err, &ae) && ae.NonRetryable()) {
		t.Fatalf("error %v, want a retryable failure", err)
	}
	if c := f.counts(t); c.Pending != 10 {
		t.Fatalf("counts %+v", c)
	}
	rows, _ := f.st.LedgerRows(context.Background(), f.inc.ID, 1, 10)
	for _, r := range rows {
		if r.Attempt != 0 {
			t.Fatalf("row %+v: a release is not an attempt", r)
		}
	}
	if err := f.sink.Restart(); err != nil {
		t.Fatal(err)
	}
	res, err := f.a.SendBatch(context.Background(), f.batch())
	if err != nil || res.Sent != 10 {
		t.Fatalf("after the restart: %+v %v", res, err)
	}
}

// TestSendBatchStopsWhenTheSendIsPaused: a paused send stops the batch
// before its next chunk; the rows not sent stay pending.
func TestSendBatchStopsWhenTheSendIsPaused(t *testing.T) {
	f := newSendFixture(t, 20)
	if err := f.a.SetSendState(context.Background(), activities.SendStateInput{OpKey: "pause", IncidentID: f.inc.ID,
		SendID: f.send.ID, Actor: dpo, State: breach.SendPaused}); err != nil {
		t.Fatal(err)
	}
	res, err := f.a.SendBatch(context.Background(), f.batch())
	if err != nil || res.Stopped != breach.SendPaused || res.Claimed != 0 || f.sink.Count() != 0 {
		t.Fatalf("paused batch: %+v %v", res, err)
	}
	if c := f.counts(t); c.Pending != 20 {
		t.Fatalf("counts %+v", c)
	}
}
