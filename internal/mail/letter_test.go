package mail_test

// An external test package: templates depends on activities, which depends
// on this package.

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/templates"
)

const incidentID = "4b1d6c0e-1f2a-4c3b-9d8e-000000000017"

func newSender(t *testing.T, srv *smtptest.Server) *mail.Sender {
	t.Helper()
	s, err := mail.NewSender(mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSNone,
		From: "ne-pas-repondre@emploi-valmont.example", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, s *mail.Sender) *mail.Conn {
	t.Helper()
	c, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSendsTheRenderedLetter: the letter rendered by templates goes out as
// is: its HTML byte for byte, its text with MIME's CRLF line ends.
func TestSendsTheRenderedLetter(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, srv)
	c := open(t, s)
	inc := breach.Incident{ID: incidentID}
	inc.Controller = breach.Controller{Name: "Agence", DPO: breach.Contact{Name: "Julien Marchal", Email: "dpo@emploi-valmont.example"}}
	inc.DataCategories = []breach.DataCategory{breach.DataContact, breach.DataCredentials}
	fields := breach.LetterFields{Language: breach.French, Subject: "Vos données", WhatHappened: "Une fuite.",
		Consequences: "Hameçonnage.", MeasuresTaken: "Mots de passe réinitialisés.", PasswordReset: true}
	rcpt := breach.Recipient{PersonID: 7, Email: "marie@personne.example", Name: "Marie \"Mimi\" Dupont", Language: breach.French}
	r, err := templates.Letters{}.RenderLetter(context.Background(), templates.LetterInput{Incident: inc, Fields: fields, Version: 1, Recipient: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	m := mail.Message{
		MessageID: s.MessageID(inc.ID, rcpt.PersonID, 1),
		To:        mail.Address{Addr: rcpt.Email, Name: rcpt.Name},
		ReplyTo:   mail.Address{Addr: inc.Controller.DPO.Email, Name: inc.Controller.DPO.Name},
		Subject:   r.Subject, HTML: r.HTML, Text: r.Text,
		Headers: map[string]string{"Content-Language": string(fields.Language)},
	}
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	text, html, err := srv.Messages()[0].Parts()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(html, r.HTML) {
		t.Error("the HTML part differs from the rendering")
	}
	if !bytes.Equal(text, bytes.ReplaceAll(r.Text, []byte("\n"), []byte("\r\n"))) {
		t.Error("the text part differs from the rendering")
	}
}
