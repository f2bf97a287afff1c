// Package mail sends the letters to the people concerned (GDPR Art. 34)
// through the SMTP relay, with github.com/wneessen/go-mail.
//
// A Sender holds the configuration; Open dials one connection (TLS, AUTH,
// EHLO by go-mail's Client) that the caller reuses for many messages with
// Conn.Send, under a per-connection rate limit. Each Send runs one SMTP
// transaction on go-mail's smtp.Client (RSET between messages, MAIL, RCPT,
// DATA) and classifies the relay's answer into a *SendError: 5xx permanent,
// 4xx and network failures temporary. Reconnecting is the caller's: after a
// network failure the Conn is Broken; Close it and Open another.
//
// Messages carry a deterministic Message-ID (MessageID), a Reply-To pointing
// at the DPO, no List-Unsubscribe (these are legal notices, not newsletters),
// and are DKIM-signed when a key is configured. Header values are checked so
// that CR or LF can never add a header. No error carries the recipient's
// address: they name fields, and the relay's answers are redacted.
package mail

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/time/rate"

	"github.com/breach-engine/breach/internal/config"
)

// TLSPolicy says how the connection to the relay is protected.
type TLSPolicy string

const (
	// TLSMandatory requires STARTTLS (submission, port 587): the default.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit TLSPolicy = "implicit"
	// TLSOpportunistic uses STARTTLS when the relay offers it.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone sends in clear: a relay on the same host, and tests.
	TLSNone TLSPolicy = "none"
)

// Defaults of Config's zero values.
const (
	DefaultPort        = 587
	DefaultImplicitTLS = 465
	DefaultConnections = 4
	DefaultTimeout     = 30 * time.Second
)

// Config is the relay and how to use it; FromConfig reads it from the
// BREACH_SMTP_* variables.
type Config struct {
	Host string
	Port int       // 0: 587, or 465 with TLSImplicit
	TLS  TLSPolicy // "": TLSMandatory
	// TLSConfig overrides the TLS client configuration (custom roots in
	// tests); nil: the system roots, verifying Host.
	TLSConfig *tls.Config

	Username string // with Password: SMTP AUTH (SCRAM, PLAIN or LOGIN, over TLS)
	Password string

	// From is the sender: "name@domain" or "Name <name@domain>". Its domain
	// ends every Message-ID and, by default, signs DKIM.
	From string

	// Rate is the number of messages per second on each connection; 0: no
	// limit.
	Rate float64
	// Connections bounds the connections open at once through this Sender
	// (Open waits for a free one); 0: 4.
	Connections int
	// Timeout bounds the dial and each command's answer; 0: 30s.
	Timeout time.Duration

	// DKIMKey, a PEM private key (RSA or Ed25519, PKCS#1 or PKCS#8), turns
	// DKIM signing on with DKIMSelector; DKIMDomain defaults to From's domain.
	DKIMKey      string
	DKIMSelector string
	DKIMDomain   string

	// HELO is the name given in EHLO; "": the machine's host name.
	HELO string
}

// FromConfig takes the relay's settings from the engine's configuration.
// The port defaults to 465 with implicit TLS when BREACH_SMTP_PORT is unset.
func FromConfig(c config.Config) Config {
	mc := Config{
		Host:         c.SMTPHost,
		Port:         c.SMTPPort,
		TLS:          TLSPolicy(c.SMTPTLS),
		Username:     c.SMTPUsername,
		Password:     c.SMTPPassword,
		From:         c.SMTPFrom,
		Rate:         c.SMTPRate,
		Connections:  c.SMTPConnections,
		Timeout:      c.SMTPTimeout,
		DKIMKey:      c.SMTPDKIMKey,
		DKIMSelector: c.SMTPDKIMSelector,
		DKIMDomain:   c.SMTPDKIMDomain,
		HELO:         c.SMTPHELO,
	}
	if mc.TLS == TLSImplicit && !c.Set["BREACH_SMTP_PORT"] {
		mc.Port = DefaultImplicitTLS
	}
	return mc
}

// Sender sends through one relay. It is safe for concurrent use; each Conn
// it opens is used by one goroutine at a time.
type Sender struct {
	cfg    Config
	from   netmail.Address
	domain string            // From's domain, lower case
	dkim   *dkim.SignOptions // nil: no DKIM signature
	slots  chan struct{}
}

// NewSender checks the configuration: a host, a sender address, a known TLS
// policy, and the DKIM key when one is given.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.TLS == "" {
		cfg.TLS = TLSMandatory
	}
	switch cfg.TLS {
	case TLSMandatory, TLSImplicit, TLSOpportunistic, TLSNone:
	default:
		return nil, fmt.Errorf("mail: TLS policy %q: want mandatory, implicit, opportunistic or none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
		if cfg.TLS == TLSImplicit {
			cfg.Port = DefaultImplicitTLS
		}
	}
	if cfg.Connections <= 0 {
		cfg.Connections = DefaultConnections
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Rate < 0 {
		return nil, errors.New("mail: rate must be 0 (no limit) or more")
	}
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, errors.New("mail: no relay host (BREACH_SMTP_HOST)")
	}
	if cfg.From == "" {
		return nil, errors.New("mail: no sender address (BREACH_SMTP_FROM)")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil || checkAddr(from.Address) != "" || checkText(from.Name) != "" {
		return nil, errors.New(`mail: the sender address (BREACH_SMTP_FROM) is not name@domain or "Name <name@domain>"`)
	}
	s := &Sender{cfg: cfg, from: *from, domain: domainOf(from.Address), slots: make(chan struct{}, cfg.Connections)}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("mail: SMTP user name and password go together")
	}
	if cfg.DKIMKey != "" {
		key, err := gomail.PrivKeyFromPEM([]byte(cfg.DKIMKey))
		if err != nil {
			return nil, errors.New("mail: the DKIM key is not a PEM RSA or Ed25519 private key (PKCS#1 or PKCS#8)")
		}
		if cfg.DKIMSelector == "" {
			return nil, errors.New("mail: a DKIM key needs a selector (BREACH_SMTP_DKIM_SELECTOR)")
		}
		domain := strings.ToLower(cfg.DKIMDomain)
		if domain == "" {
			domain = s.domain
		}
		// Relaxed canonicalization: relays may refold headers and trim
		// trailing spaces without breaking the signature.
		s.dkim = &dkim.SignOptions{
			Domain: domain, Selector: cfg.DKIMSelector, Signer: key, Hash: crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: dkimHeaders,
		}
		if _, err := dkim.NewSigner(s.dkim); err != nil {
			return nil, fmt.Errorf("mail: DKIM: %w", err)
		}
	}
	return s, nil
}

// Config is the configuration in use, defaults applied, with its secrets
// (Password, DKIMKey) blanked so that it can be logged.
func (s *Sender) Config() Config {
	c := s.cfg
	if c.Password != "" {
		c.Password = "[set]"
	}
	if c.DKIMKey != "" {
		c.DKIMKey = "[set]"
	}
	return c
}

// Domain is the domain of the sender address.
func (s *Sender) Domain() string { return s.domain }

// MessageID is MessageID with the sender's domain.
func (s *Sender) MessageID(incidentID string, personID int64, letterVersion int) string {
	return MessageID(incidentID, personID, letterVersion, s.domain)
}

// KindMessageID is KindMessageID with the Sender's domain.
func (s *Sender) KindMessageID(kind, incidentID string, personID int64, version int) string {
	return KindMessageID(kind, incidentID, personID, version, s.domain)
}

// Conn is one connection to the relay, reused for many messages. It is not
// for concurrent use (calls are serialised).
type Conn struct {
	s       *Sender
	client  *smtp.Client
	netConn net.Conn
	limiter *rate.Limiter

	mu       sync.Mutex
	sent     int // transactions started, for RSET between messages
	broken   bool
	closed   bool
	released sync.Once
}

// Open dials one connection to the relay, waiting for a free one when
// Connections are already open. A failure is a *SendError at StageConnect:
// temporary when the relay cannot be reached, permanent when it refuses the
// session (authentication, TLS required but not offered: configuration to
// fix, not a message to give up on).
func (s *Sender) Open(ctx context.Context) (*Conn, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("mail: waiting for a free connection: %w", ctx.Err())
	}
	c, err := s.dial(ctx)
	if err != nil {
		<-s.slots
		return nil, err
	}
	return c, nil
}

func (s *Sender) dial(ctx context.Context) (*Conn, error) {
	cfg := s.cfg
	tlsConf := cfg.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	} else if tlsConf.ServerName == "" {
		tlsConf = tlsConf.Clone()
		tlsConf.ServerName = cfg.Host
	}
	// The dialer keeps the socket: closing it is how ctx interrupts a
	// command in flight (go-mail's smtp.Client holds its lock while it waits
	// for an answer).
	var (
		connMu  sync.Mutex
		netConn net.Conn
	)
	closeConn := func() {
		connMu.Lock()
		defer connMu.Unlock()
		if netConn != nil {
			_ = netConn.Close()
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: cfg.Timeout}
		var c net.Conn
		var err error
		if cfg.TLS == TLSImplicit {
			c, err = (&tls.Dialer{NetDialer: d, Config: tlsConf}).DialContext(ctx, network, addr)
		} else {
			c, err = d.DialContext(ctx, network, addr)
		}
		if err == nil {
			connMu.Lock()
			netConn = c
			connMu.Unlock()
		}
		return c, err
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(tlsConf),
		gomail.WithDialContextFunc(dial),
	}
	switch cfg.TLS {
	case TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default: // none, or implicit: the dialer already speaks TLS
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		// PLAIN and LOGIN refuse to run without TLS, except to localhost.
		opts = append(opts, gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	gc, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: client: %w", err)
	}

	// The dial and the session set-up (EHLO, STARTTLS, AUTH) end with ctx.
	stop := context.AfterFunc(ctx, closeConn)
	client, err := gc.DialToSMTPClientWithContext(ctx)
	stop()
	if err != nil {
		closeConn()
		return nil, connectError(ctx, err)
	}
	c := &Conn{s: s, client: client, netConn: netConn}
	if cfg.Rate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	} else {
		c.limiter = rate.NewLimiter(rate.Inf, 0)
	}
	return c, nil
}

// dkimHeaders are the header fields the DKIM signature covers; the last four
// are listed twice ("oversigned"), so that no second From, To, Subject or
// Reply-To can be added after signing without breaking the signature.
var dkimHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "Reply-To",
	"MIME-Version", "Content-Type", "Auto-Submitted", "From", "To", "Subject", "Reply-To"}

// Broken reports whether the connection failed (network error, relay closing
// it); further Sends fail at once: Close it and Open another.
func (c *Conn) Broken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken || c.closed
}

// Sent is the number of transactions started on this connection.
func (c *Conn) Sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// Close ends the session politely (QUIT) when the connection still works,
// closes it, and frees its place among the Sender's connections.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	defer c.released.Do(func() { <-c.s.slots })
	var err error
	if !c.broken {
		_ = c.client.UpdateDeadline(5 * time.Second)
		if qerr := c.client.Quit(); qerr != nil {
			err = fmt.Errorf("mail: quit: %w", qerr)
		}
	}
	_ = c.netConn.Close()
	return err
}

// Send sends one message on the connection, after waiting for the rate
// limiter. It returns nil when the relay accepted the message (250 after
// DATA); a *FieldError when the message is malformed (never sent, whatever
// the relay); a *SendError for the relay's refusal or a network failure; or
// ctx's error when ctx ended while waiting for the limiter.
func (c *Conn) Send(ctx context.Context, m Message) error {
	msg, rcpt, err := c.build(m)
	if err != nil {
		return err
	}
	if err := c.wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return &SendError{Stage: StageConnect, Err: ErrClosed}
	case c.broken:
		return &SendError{Stage: StageConnect, Err: ErrBroken}
	}
	// Closing the socket is the only way to interrupt a command in flight.
	stop := context.AfterFunc(ctx, func() { _ = c.netConn.Close() })
	defer stop()
	err = c.transaction(msg, rcpt)
	if err == nil {
		return nil
	}
	se := classify(err, rcpt)
	if ctx.Err() != nil && se.Code == 0 {
		se.Err = errors.Join(ctx.Err(), se.Err)
	}
	if se.Code == 0 || se.Code == 421 {
		c.broken = true // no answer, or the relay is closing the session
	}
	return se
}

// wait waits for the rate limiter; it returns ctx's error (wrapped) if ctx
// ends first.
func (c *Conn) wait(ctx context.Context) error {
	r := c.limiter.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return fmt.Errorf("mail: waiting for the rate limit: %w", ctx.Err())
	}
}

// transaction runs RSET (between messages), MAIL, RCPT, DATA and the message.
// Errors are wrapped in stageError.
func (c *Conn) transaction(msg *gomail.Msg, rcpt string) error {
	t := c.s.cfg.Timeout
	step := func(stage Stage, f func() error) error {
		if err := c.client.UpdateDeadline(t); err != nil {
			return &stageError{stage, err}
		}
		if err := f(); err != nil {
			return &stageError{stage, err}
		}
		return nil
	}
	if c.sent > 0 {
		if err := step(StageReset, c.client.Reset); err != nil {
			return err
		}
	}
	c.sent++
	from, err := msg.GetSender(false)
	if err != nil {
		return &stageError{StageMail, err}
	}
	if err := step(StageMail, func() error { return c.client.Mail(from) }); err != nil {
		return err
	}
	to := (&netmail.Address{Address: rcpt}).String() // <name@domain>
	if err := step(StageRcpt, func() error { return c.client.Rcpt(to) }); err != nil {
		return err
	}
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if err := step(StageData, func() (err error) { w, err = c.client.Data(); return err }); err != nil {
		return err
	}
	if err := step(StageData, func() error { return c.write(w, msg) }); err != nil {
		return err
	}
	return step(StageEndOfData, w.Close)
}

// write writes the message to the DATA stream, signed when DKIM is on: the
// signature covers the whole rendered message, so it is computed on the
// bytes first and put in front of them (github.com/emersion/go-msgauth).
func (c *Conn) write(w io.Writer, msg *gomail.Msg) error {
	if c.s.dkim == nil {
		_, err := msg.WriteTo(w)
		return err
	}
	signer, err := dkim.NewSigner(c.s.dkim)
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(io.MultiWriter(&buf, signer)); err != nil {
		_ = signer.Close()
		return err
	}
	if err := signer.Close(); err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	if _, err := io.WriteString(w, signer.Signature()); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
