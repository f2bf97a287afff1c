package mail

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/breach-engine/breach/internal/config"
	"github.com/breach-engine/breach/internal/smtptest"
)

const incidentID = "4b1d6c0e-1f2a-4c3b-9d8e-000000000017"

// testConfig points at an in-process relay, in clear, without a rate limit.
func testConfig(s *smtptest.Server) Config {
	return Config{
		Host: s.Host(), Port: s.Port(), TLS: TLSNone,
		From:    "Agence pour l'emploi <ne-pas-repondre@emploi-valmont.example>",
		Timeout: 5 * time.Second,
	}
}

func newSender(t testing.TB, cfg Config) *Sender {
	t.Helper()
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t testing.TB, s *Sender) *Conn {
	t.Helper()
	c, err := s.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func letter(s *Sender, person int64, addr, name string) Message {
	return Message{
		MessageID: s.MessageID(incidentID, person, 3),
		To:        Address{Addr: addr, Name: name},
		ReplyTo:   Address{Addr: "dpo@emploi-valmont.example", Name: "Délégué à la protection des données"},
		Subject:   "Information importante sur vos données personnelles",
		Text:      []byte("Bonjour,\n\nUn incident de sécurité.\n"),
		HTML:      []byte("<!doctype html><p>Bonjour,</p><p>Un incident de sécurité.</p>"),
		Headers:   map[string]string{"Content-Language": "fr"},
	}
}

// TestOneConnectionManyMessages: one Open, many Sends, one SMTP session.
func TestOneConnectionManyMessages(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	const n = 60
	for i := 0; i < n; i++ {
		if err := c.Send(context.Background(), letter(s, int64(i), fmt.Sprintf("p%d@personne.example", i), "Marie Dupont")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	st := srv.Stats()
	if st.Connections != 1 || st.Messages != n || c.Sent() != n {
		t.Errorf("%d connections, %d messages, %d sent", st.Connections, st.Messages, c.Sent())
	}
	for i, m := range srv.Messages() {
		if m.Conn != 1 || m.To[0] != fmt.Sprintf("p%d@personne.example", i) {
			t.Errorf("message %d on connection %d to %v", i, m.Conn, m.To)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	var se *SendError
	if err := c.Send(context.Background(), letter(s, 0, "p@personne.example", "")); !errors.As(err, &se) || !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

// TestHeaders: the deterministic Message-ID, Reply-To the DPO, From, To,
// Subject encoded, Auto-Submitted, extra headers; no List-Unsubscribe; both
// parts exactly as given.
func TestHeaders(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	m := letter(s, 42, "marie.dupont@personne.example", "Marie-Hélène Dupont")
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()[0]
	want := "<letter." + incidentID + ".p42.v3@emploi-valmont.example>"
	if m.MessageID != want || got.MessageID != want || srv.ByMessageID(want) != 1 {
		t.Errorf("Message-ID %q, received %q, want %q", m.MessageID, got.MessageID, want)
	}
	if got.From != "ne-pas-repondre@emploi-valmont.example" || got.To[0] != "marie.dupont@personne.example" {
		t.Errorf("envelope %q -> %v", got.From, got.To)
	}
	for name, part := range map[string]string{
		"Reply-To":                 "<dpo@emploi-valmont.example>",
		"From":                     "<ne-pas-repondre@emploi-valmont.example>",
		"To":                       "<marie.dupont@personne.example>",
		"Subject":                  "=?UTF-8?q?Information_importante_sur_vos_donn=C3=A9es_personnelles?=",
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "OOF, AutoReply",
		"Content-Language":         "fr",
		"Date":                     " ",
	} {
		if h := got.Header(name); !strings.Contains(h, part) {
			t.Errorf("%s: %q, want it to contain %q", name, h, part)
		}
	}
	raw := strings.ToLower(string(got.Raw))
	for _, absent := range []string{"list-unsubscribe", "user-agent", "x-mailer", "precedence"} {
		if strings.Contains(raw, absent+":") {
			t.Errorf("the message has a %s header", absent)
		}
	}
	text, html, err := got.Parts()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(html, m.HTML) || !bytes.Equal(bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")), m.Text) {
		t.Errorf("parts differ:\n%q\n%q", text, html)
	}
}

func TestMessageID(t *testing.T) {
	a := MessageID(incidentID, 42, 3, "Emploi-Valmont.example.")
	if a != MessageID(incidentID, 42, 3, "emploi-valmont.example") || a != "<letter."+incidentID+".p42.v3@emploi-valmont.example>" {
		t.Errorf("MessageID %q", a)
	}
	seen := map[string]bool{a: true}
	for _, other := range []string{
		MessageID(incidentID, 43, 3, "emploi-valmont.example"),
		MessageID(incidentID, 42, 4, "emploi-valmont.example"),
		MessageID("other", 42, 3, "emploi-valmont.example"),
		MessageID(incidentID, 42, 3, "example.org"),
	} {
		if seen[other] {
			t.Errorf("collision: %s", other)
		}
		seen[other] = true
	}
	odd := MessageID("inc/1>\r\nBcc: x", 1, 1, "bad domain\r\n")
	if !isMessageID(odd) || odd != MessageID("inc/1>\r\nBcc: x", 1, 1, "bad domain\r\n") || !strings.HasSuffix(odd, "@invalid>") {
		t.Errorf("odd inputs: %q", odd)
	}
}

// TestRelayAnswers: 451 is temporary, 550 permanent with the relay's text,
// 552 to RCPT temporary, a refusal at the end of DATA permanent; the address
// never appears in an error; the connection stays usable after a refusal.
func TestRelayAnswers(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{
		OnRcpt: smtptest.FirstOf(
			smtptest.Reject(smtptest.Temporary("Greylisted, please try again later"), "busy@personne.example"),
			smtptest.Reject(smtptest.Permanent("<Gone.User@Personne.example>: Recipient address rejected: User unknown"), "gone.user@personne.example"),
			smtptest.Reject(&smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}, "full@personne.example"),
		),
		OnData: func(rcpts []string, raw []byte) error {
			if rcpts[0] == "spam@personne.example" {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected\nas spam"}
			}
			return nil
		},
	})
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	cases := []struct {
		addr      string
		permanent bool
		refused   bool
		code      int
		enhanced  string
		stage     Stage
		text      string
	}{
		{"busy@personne.example", false, false, 451, "4.3.0", StageRcpt, "Greylisted, please try again later"},
		{"gone.user@personne.example", true, true, 550, "5.1.1", StageRcpt, "<[address]>: Recipient address rejected: User unknown"},
		{"full@personne.example", true, true, 552, "5.2.2", StageRcpt, "Mailbox full"},
		{"spam@personne.example", true, true, 554, "5.7.1", StageEndOfData, "Message rejected as spam"},
	}
	for _, k := range cases {
		err := c.Send(context.Background(), letter(s, 1, k.addr, "Someone"))
		var se *SendError
		if !errors.As(err, &se) {
			t.Fatalf("%s: %v", k.addr, err)
		}
		if se.Permanent != k.permanent || se.Temporary() == k.permanent || se.MessageRefused() != k.refused || se.Code != k.code ||
			se.Enhanced != k.enhanced || se.Stage != k.stage || se.Response != k.text || se.Uncertain || se.Err != nil {
			t.Errorf("%s: %+v", k.addr, se)
		}
		local := k.addr[:strings.IndexByte(k.addr, '@')]
		if low := strings.ToLower(err.Error()); strings.Contains(low, k.addr) || (len(local) >= 8 && strings.Contains(low, local)) {
			t.Errorf("the error names the recipient: %v", err)
		}
		if c.Broken() {
			t.Fatalf("%s: a refusal broke the connection", k.addr)
		}
	}
	if err := c.Send(context.Background(), letter(s, 2, "ok@personne.example", "")); err != nil {
		t.Errorf("after refusals: %v", err)
	}
	if st := srv.Stats(); st.Messages != 1 || st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRelayDown: a relay that goes away is a temporary network error, on the
// open connection and when opening another; back up, sending resumes.
func TestRelayDown(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	if err := c.Send(context.Background(), letter(s, 1, "a@personne.example", "")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	var se *SendError
	err := c.Send(context.Background(), letter(s, 2, "a@personne.example", ""))
	if !errors.As(err, &se) || se.Permanent || se.Code != 0 || se.Err == nil || !c.Broken() {
		t.Fatalf("send to a stopped relay: %v", err)
	}
	if err := c.Send(context.Background(), letter(s, 2, "a@personne.example", "")); !errors.Is(err, ErrBroken) || !errors.As(err, &se) || se.Permanent {
		t.Errorf("send on a broken connection: %v", err)
	}
	c.Close()
	_, err = s.Open(context.Background())
	if !errors.As(err, &se) || se.Permanent || se.Stage != StageConnect || se.Code != 0 {
		t.Fatalf("open while down: %v", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c2 := open(t, s)
	if err := c2.Send(context.Background(), letter(s, 2, "a@personne.example", "")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if srv.Count() != 2 {
		t.Errorf("%d messages", srv.Count())
	}
}

// TestCancelWhileWaitingForTheAnswer: ctx ends while the relay holds its
// answer to the message: Send returns at once, temporary and uncertain.
func TestCancelWhileWaitingForTheAnswer(t *testing.T) {
	release := make(chan struct{})
	srv := smtptest.Start(t, smtptest.Options{OnData: func([]string, []byte) error { <-release; return nil }})
	defer close(release)
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Send(ctx, letter(s, 1, "a@personne.example", ""))
	var se *SendError
	if !errors.As(err, &se) || se.Permanent || !se.Uncertain || se.Stage != StageEndOfData || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled send: %v (%+v)", err, se)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
	if !c.Broken() {
		t.Error("the connection is not marked broken")
	}
}

// TestRateLimit: with 20 messages per second, a connection sends no more
// than about 20 in a second (generous bounds, no tight timing).
func TestRateLimit(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{CountOnly: true})
	cfg := testConfig(srv)
	cfg.Rate = 20
	s := newSender(t, cfg)
	c := open(t, s)
	sent := 0
	for start := time.Now(); time.Since(start) < time.Second; sent++ {
		if err := c.Send(context.Background(), letter(s, int64(sent), "a@personne.example", "")); err != nil {
			t.Fatal(err)
		}
	}
	// A context that ends while waiting for the limiter ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	c.Send(context.Background(), letter(s, 0, "a@personne.example", ""))
	if err := c.Send(ctx, letter(s, 0, "a@personne.example", "")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the deadline: %v", err)
	}
	// 20 per second plus the burst of 1 and the boundary; at least a few.
	if sent > 23 || sent < 5 {
		t.Errorf("%d messages in one second at 20 per second", sent)
	}
	// Without a limit, the same second carries far more.
	cfg.Rate = 0
	s2 := newSender(t, cfg)
	c2 := open(t, s2)
	free := 0
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && free < 200 {
		if err := c2.Send(context.Background(), letter(s2, int64(free), "a@personne.example", "")); err != nil {
			t.Fatal(err)
		}
		free++
	}
	if free <= sent {
		t.Errorf("unlimited: %d messages, limited: %d", free, sent)
	}
}

// TestHeaderInjectionRefused: CR or LF in any header value, an invalid
// address, a reserved or List-Unsubscribe header: refused before anything is
// sent, naming the field and not the value.
func TestHeaderInjectionRefused(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, testConfig(srv))
	c := open(t, s)
	const secret = "victim@personne.example"
	cases := []struct {
		field string
		edit  func(*Message)
	}{
		{"To.Name", func(m *Message) { m.To.Name = "Eve\r\nBcc: " + secret }},
		{"To.Name", func(m *Message) { m.To.Name = "Eve\nBcc: " + secret }},
		{"To.Addr", func(m *Message) { m.To.Addr = secret + "\r\nBcc: x@example.org" }},
		{"To.Addr", func(m *Message) { m.To.Addr = "Eve <" + secret + ">" }},
		{"To.Addr", func(m *Message) { m.To.Addr = "" }},
		{"Subject", func(m *Message) { m.Subject = "Hello\r\nBcc: " + secret }},
		{"Subject", func(m *Message) { m.Subject = "Hello\u2028" + secret }},
		{"Subject", func(m *Message) { m.Subject = "" }},
		{"From.Name", func(m *Message) { m.From = Address{Addr: "x@example.org", Name: "A\rB " + secret} }},
		{"ReplyTo.Addr", func(m *Message) { m.ReplyTo.Addr = "not an address " + secret }},
		{"ReplyTo.Name", func(m *Message) { m.ReplyTo.Name = "DPO\n" + secret }},
		{"MessageID", func(m *Message) { m.MessageID = "<a@b>\r\nBcc: " + secret }},
		{"MessageID", func(m *Message) { m.MessageID = "no-brackets@example.org" }},
		{"Headers[X-Note]", func(m *Message) { m.Headers = map[string]string{"X-Note": "a\r\nBcc: " + secret} }},
		{"Headers[List-Unsubscribe]", func(m *Message) { m.Headers = map[string]string{"List-Unsubscribe": "<mailto:x@example.org>"} }},
		{"Headers[list-unsubscribe-post]", func(m *Message) { m.Headers = map[string]string{"list-unsubscribe-post": "List-Unsubscribe=One-Click"} }},
		{"Headers[Bcc]", func(m *Message) { m.Headers = map[string]string{"Bcc": secret} }},
		{"Headers[Bad\\r\\nName]", func(m *Message) { m.Headers = map[string]string{"Bad\r\nName": "x"} }},
		{"Text", func(m *Message) { m.Text, m.HTML = nil, nil }},
		{"HTML", func(m *Message) { m.HTML = []byte("\xff") }},
	}
	for _, k := range cases {
		m := letter(s, 1, "a@personne.example", "Eve")
		k.edit(&m)
		err := c.Send(context.Background(), m)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != k.field {
			t.Errorf("%s: %v", k.field, err)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "victim") {
			t.Errorf("%s: the error quotes the value: %v", k.field, err)
		}
	}
	if srv.Count() != 0 || c.Sent() != 0 || c.Broken() {
		t.Errorf("%d messages reached the relay", srv.Count())
	}
	// A name with quotes, commas and accents is fine: it is encoded.
	m := letter(s, 1, "a@personne.example", `Dupont, "Marie" <é>`)
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if to := srv.Messages()[0].Header("To"); !strings.Contains(to, "<a@personne.example>") || strings.Count(to, "@") != 1 {
		t.Errorf("To: %q", to)
	}
}

func pemKey(t *testing.T, key any) string {
	t.Helper()
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return string(pem.EncodeToMemory(block))
}

// TestDKIM: with a key configured, every message carries a signature that
// go-msgauth verifies against the published key, RSA and Ed25519; a changed
// header fails it.
func TestDKIM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := []struct {
		name, pem, record string
	}{
		{"rsa", pemKey(t, rsaKey), "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(rsaPub)},
		{"ed25519", pemKey(t, edKey), "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub)},
	}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{})
			cfg := testConfig(srv)
			cfg.DKIMKey, cfg.DKIMSelector = k.pem, "breach2026"
			s := newSender(t, cfg)
			c := open(t, s)
			for i := 0; i < 3; i++ {
				if err := c.Send(context.Background(), letter(s, int64(i), fmt.Sprintf("p%d@personne.example", i), "Marie-Hélène Dupont")); err != nil {
					t.Fatal(err)
				}
			}
			lookups := 0
			opts := &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
				lookups++
				if domain != "breach2026._domainkey.emploi-valmont.example" {
					return nil, fmt.Errorf("unexpected lookup %s", domain)
				}
				return []string{k.record}, nil
			}}
			for _, m := range srv.Messages() {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Raw), opts)
				if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "emploi-valmont.example" {
					t.Fatalf("verification: %v %+v", err, vs)
				}
				for _, h := range []string{"from", "to", "subject", "date", "message-id", "reply-to"} {
					if !containsFold(vs[0].HeaderKeys, h) {
						t.Errorf("%s is not signed (%v)", h, vs[0].HeaderKeys)
					}
				}
				// Another Reply-To after signing: the signature fails.
				forged := append([]byte("Reply-To: <attacker@evil.example>\r\n"), m.Raw...)
				vs, err = dkim.VerifyWithOptions(bytes.NewReader(forged), opts)
				if err != nil || len(vs) != 1 || vs[0].Err == nil {
					t.Errorf("a forged Reply-To still verifies: %v %+v", err, vs)
				}
			}
			if lookups == 0 {
				t.Error("no key lookup")
			}
		})
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// TestAuth: AUTH PLAIN against the relay (allowed in clear on 127.0.0.1
// only), and a wrong password: a permanent refusal of the session, not of a
// message.
func TestAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Auth: &smtptest.Credentials{Username: "breach", Password: "s3cret"}})
	cfg := testConfig(srv)
	cfg.Username, cfg.Password = "breach", "s3cret"
	s := newSender(t, cfg)
	c := open(t, s)
	if err := c.Send(context.Background(), letter(s, 1, "a@personne.example", "")); err != nil {
		t.Fatal(err)
	}
	cfg.Password = "wrong"
	_, err := newSender(t, cfg).Open(context.Background())
	var se *SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != 535 || se.Stage != StageConnect || se.MessageRefused() {
		t.Errorf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	// No credentials: the relay refuses MAIL FROM, for every message alike.
	cfg.Username, cfg.Password = "", ""
	c3 := open(t, newSender(t, cfg))
	err = c3.Send(context.Background(), letter(s, 1, "a@personne.example", ""))
	if !errors.As(err, &se) || !se.Permanent || se.Stage != StageMail || se.MessageRefused() {
		t.Errorf("without AUTH: %v", err)
	}
}

// TestTLS: STARTTLS required against a relay that does not offer it is a
// permanent session refusal; STARTTLS and implicit TLS work with the relay's
// certificate trusted.
func TestTLS(t *testing.T) {
	serverTLS, clientTLS, err := smtptest.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	plain := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig(plain)
	cfg.TLS = TLSMandatory
	_, err = newSender(t, cfg).Open(context.Background())
	var se *SendError
	if !errors.As(err, &se) || !se.Permanent || se.Stage != StageConnect {
		t.Errorf("mandatory STARTTLS without STARTTLS: %v", err)
	}
	cfg.TLS = TLSOpportunistic
	if err := open(t, newSender(t, cfg)).Send(context.Background(), letter(newSender(t, cfg), 1, "a@personne.example", "")); err != nil {
		t.Errorf("opportunistic without STARTTLS: %v", err)
	}

	for _, mode := range []TLSPolicy{TLSMandatory, TLSImplicit} {
		srv := smtptest.Start(t, smtptest.Options{TLSConfig: serverTLS, ImplicitTLS: mode == TLSImplicit})
		cfg := testConfig(srv)
		cfg.TLS, cfg.TLSConfig = mode, clientTLS
		s := newSender(t, cfg)
		if err := open(t, s).Send(context.Background(), letter(s, 1, "a@personne.example", "")); err != nil {
			t.Errorf("%s: %v", mode, err)
		}
		// An untrusted certificate is refused, permanently.
		cfg.TLSConfig = nil
		cfg.Host = "127.0.0.1"
		_, err := newSender(t, cfg).Open(context.Background())
		if !errors.As(err, &se) || !se.Permanent {
			t.Errorf("%s with an untrusted certificate: %v", mode, err)
		}
	}
}

// TestConnectionsBound: Open waits while Connections are open.
func TestConnectionsBound(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig(srv)
	cfg.Connections = 2
	s := newSender(t, cfg)
	a, b := open(t, s), open(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Open(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third open: %v", err)
	}
	a.Close()
	c := open(t, s)
	var wg sync.WaitGroup
	for _, conn := range []*Conn{b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := conn.Send(context.Background(), letter(s, int64(i), "a@personne.example", "")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := srv.Stats(); st.Messages != 40 || st.Connections != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewSenderChecksTheConfiguration(t *testing.T) {
	good := Config{Host: "smtp.example.org", From: "x@example.org"}
	s, err := NewSender(good)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Port != 587 || c.TLS != TLSMandatory || c.Connections != 4 || c.Timeout != 30*time.Second || s.Domain() != "example.org" {
		t.Errorf("defaults %+v", c)
	}
	implicit := good
	implicit.TLS = TLSImplicit
	if s, _ := NewSender(implicit); s.Config().Port != 465 {
		t.Errorf("implicit port %d", s.Config().Port)
	}
	for name, edit := range map[string]func(*Config){
		"no host":  func(c *Config) { c.Host = "" },
		"no from":  func(c *Config) { c.From = "" },
		"bad from": func(c *Config) { c.From = "nobody" },
		"bad tls":  func(c *Config) { c.TLS = "starttls" },
		"bad key": func(c *Config) {
			c.DKIMKey, c.DKIMSelector = "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----", "s"
		},
		"no selector":  func(c *Config) { c.DKIMKey = pemKey(t, ed25519.NewKeyFromSeed(make([]byte, 32))) },
		"user only":    func(c *Config) { c.Username = "u" },
		"rate below 0": func(c *Config) { c.Rate = -1 },
	} {
		c := good
		edit(&c)
		if _, err := NewSender(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFromConfig(t *testing.T) {
	c, err := config.LoadFrom(func(name string) (string, bool) {
		v, ok := map[string]string{
			"BREACH_SMTP_HOST": "smtp.example.org", "BREACH_SMTP_TLS": "implicit",
			"BREACH_SMTP_FROM": "x@example.org", "BREACH_SMTP_RATE": "12.5",
		}[name]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	mc := FromConfig(c)
	if mc.Host != "smtp.example.org" || mc.Port != 465 || mc.TLS != TLSImplicit || mc.Rate != 12.5 ||
		mc.Connections != 4 || mc.Timeout != 30*time.Second || mc.From != "x@example.org" {
		t.Errorf("%+v", mc)
	}
	c.Set["BREACH_SMTP_PORT"], c.SMTPPort = true, 2465
	if FromConfig(c).Port != 2465 {
		t.Error("explicit port ignored")
	}
}

func TestResponseRedaction(t *testing.T) {
	text, enh := response("5.1.1 <Jean.Dupont@Example.ORG>: Recipient address rejected\n5.1.1 see jean.dupont@example.org or other@x.example", "jean.dupont@example.org")
	if enh != "5.1.1" || strings.Contains(strings.ToLower(text), "jean") || strings.Contains(text, "other@") ||
		text != "<[address]>: Recipient address rejected see [address] or [address]" {
		t.Errorf("%q %q", text, enh)
	}
	if text, _ := response("4.2.2 Mailbox full", "full@example.org"); text != "Mailbox full" {
		t.Errorf("%q %q", text, enh)
	}
	long, _ := response(strings.Repeat("é", 400), "")
	if len(long) > maxResponse+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "é") {
		t.Errorf("long response %q", long)
	}
}

// BenchmarkSend is one connection's throughput to the in-process relay.
func BenchmarkSend(b *testing.B) {
	srv := smtptest.Start(b, smtptest.Options{CountOnly: true})
	s := newSender(b, testConfig(srv))
	c := open(b, s)
	m := letter(s, 1, "a@personne.example", "Marie Dupont")
	m.HTML = bytes.Repeat([]byte("<p>Un paragraphe de la lettre, en français.</p>"), 120)
	m.Text = bytes.Repeat([]byte("Un paragraphe de la lettre, en français.\n"), 120)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Send(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
