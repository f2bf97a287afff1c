// Package smtptest runs an in-process SMTP server, built with
// github.com/emersion/go-smtp, for tests and benchmarks: it listens on
// 127.0.0.1 on a free port, accepts every message by default and records
// what it received; callbacks inject temporary (4xx) and permanent (5xx)
// answers for given recipients or a random share of them; Stop and Restart
// take the relay down and bring it back on the same port. A counting mode
// keeps only totals, so that a million-message benchmark does not grow its
// memory with each message.
//
// It is a test double for the relay, not a mail server: it delivers nothing.
package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Server. The zero value accepts everything, records
// every message, offers no AUTH and no STARTTLS.
type Options struct {
	// CountOnly keeps totals only (Stats): no message bytes, no Message-ID or
	// recipient tables. Memory then stays flat whatever the number of
	// messages; Messages, ByMessageID and ByRecipient report nothing.
	CountOnly bool
	// CountIDs, with CountOnly, still counts messages by Message-ID and by
	// recipient (ByMessageID, ByRecipient, Duplicates) from the header
	// alone: a duplicate check over many messages without their bytes.
	CountIDs bool

	// Auth, when set, offers AUTH PLAIN and requires it before MAIL FROM.
	Auth *Credentials

	// TLSConfig, when set, offers STARTTLS with it; with ImplicitTLS the
	// listener speaks TLS from the first byte instead (port 465 style).
	TLSConfig   *tls.Config
	ImplicitTLS bool

	// OnRcpt decides the answer to each RCPT TO: nil, or a nil result,
	// accepts; an *smtp.SMTPError (see Temporary, Permanent) is sent as is.
	// It runs concurrently for different connections.
	OnRcpt func(rcpt string) error
	// OnData decides the answer at the end of DATA, once the whole message
	// is read; raw is the message (nil with CountOnly, its header only with
	// CountIDs). nil accepts.
	OnData func(rcpts []string, raw []byte) error

	// MaxMessageBytes bounds a message (default 10 MiB).
	MaxMessageBytes int64
	// ErrorLog receives the SMTP library's own error log; default: discarded.
	ErrorLog io.Writer
}

// Credentials are the user name and password AUTH PLAIN accepts.
type Credentials struct {
	Username, Password string
}

// Message is one message the server accepted.
type Message struct {
	From      string   // envelope sender
	To        []string // envelope recipients
	MessageID string   // the Message-ID header, with its angle brackets
	Raw       []byte   // the message as received (CRLF line ends, dot-unstuffed)
	Conn      uint64   // the connection it came on, numbered from 1
}

// Header returns the first header field of that name in the message, unfolded.
func (m Message) Header(name string) string {
	h, _ := parseHeader(m.Raw)
	return h.Get(name)
}

// Stats are the server's counters.
type Stats struct {
	Connections  int64 // connections accepted
	Messages     int64 // messages accepted (250 after DATA)
	Recipients   int64 // recipients of accepted messages
	Bytes        int64 // bytes of accepted messages
	TempFailures int64 // 4xx answers from OnRcpt and OnData
	PermFailures int64 // 5xx answers from OnRcpt and OnData
	AuthFailures int64
}

// Server is a running in-process SMTP server.
type Server struct {
	opts Options
	addr string // 127.0.0.1:port, kept across Restart

	mu        sync.Mutex
	srv       *smtp.Server
	ln        net.Listener
	done      chan struct{}
	messages  []Message
	byID      map[string]int
	byRcpt    map[string]int
	running   bool
	connCount atomic.Uint64

	connections, accepted, recipients, bytes atomic.Int64
	tempFail, permFail, authFail             atomic.Int64
}

// Start starts a server for a test or benchmark and stops it at the end.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New starts a server on 127.0.0.1 on a free port. Close stops it.
func New(opts Options) (*Server, error) {
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 10 << 20
	}
	s := &Server{opts: opts, byID: map[string]int{}, byRcpt: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// Host is the address the server listens on: 127.0.0.1.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the server's port, the same after Restart.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) serve(l net.Listener) {
	if s.opts.ImplicitTLS && s.opts.TLSConfig != nil {
		l = tls.NewListener(l, s.opts.TLSConfig)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.connections.Add(1)
		return &session{s: s, conn: s.connCount.Add(1)}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	if !s.opts.ImplicitTLS {
		srv.TLSConfig = s.opts.TLSConfig
	}
	w := s.opts.ErrorLog
	if w == nil {
		w = io.Discard
	}
	srv.ErrorLog = log.New(w, "smtptest ", 0)
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.done, s.running = srv, l, done, true
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
}

// Stop takes the relay down: the listener and every open connection are
// closed, so clients see network errors and refused connections until
// Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, ln, done, running := s.srv, s.ln, s.done, s.running
	s.running = false
	s.mu.Unlock()
	if !running {
		return
	}
	_ = srv.Close()
	// A Stop right after the start can close the server before its Serve
	// took the listener in: close it here too, or Serve never returns.
	_ = ln.Close()
	<-done
}

// Restart brings a stopped relay back on the same port, keeping what it has
// recorded. Restarting a running server does nothing.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if running {
		return nil
	}
	// The port was ours a moment ago; SO_REUSEADDR (Go's default) lets us
	// bind it again at once. Retry briefly in case the kernel is slow to
	// release it.
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("smtptest: listen again on %s: %w", s.addr, err)
	}
	s.serve(l)
	return nil
}

// StopFor takes the relay down for d, then brings it back in the background.
func (s *Server) StopFor(d time.Duration) {
	s.Stop()
	time.AfterFunc(d, func() { _ = s.Restart() })
}

// Running reports whether the relay is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Connections:  s.connections.Load(),
		Messages:     s.accepted.Load(),
		Recipients:   s.recipients.Load(),
		Bytes:        s.bytes.Load(),
		TempFailures: s.tempFail.Load(),
		PermFailures: s.permFail.Load(),
		AuthFailures: s.authFail.Load(),
	}
}

// Count is the number of messages accepted.
func (s *Server) Count() int { return int(s.accepted.Load()) }

// Messages returns a copy of the messages accepted, in order of acceptance.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// ByMessageID is how many times a message with this Message-ID (angle
// brackets included) was accepted.
func (s *Server) ByMessageID(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

// ByRecipient is how many messages were accepted for this envelope
// recipient, compared without case.
func (s *Server) ByRecipient(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byRcpt[strings.ToLower(rcpt)]
}

// Duplicates lists the Message-IDs accepted more than once, with their counts.
func (s *Server) Duplicates() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for id, n := range s.byID {
		if n > 1 {
			out[id] = n
		}
	}
	return out
}

// Reset forgets the messages and counters (not the connection count).
func (s *Server) Reset() {
	s.mu.Lock()
	s.messages, s.byID, s.byRcpt = nil, map[string]int{}, map[string]int{}
	s.mu.Unlock()
	for _, c := range []*atomic.Int64{&s.accepted, &s.recipients, &s.bytes, &s.tempFail, &s.permFail, &s.authFail} {
		c.Store(0)
	}
}

// WaitCount waits until at least n messages were accepted, or ctx ends.
func (s *Server) WaitCount(ctx context.Context, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.Count() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("smtptest: %d messages of %d: %w", s.Count(), n, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func (s *Server) record(from string, rcpts []string, raw []byte, size int64, conn uint64) {
	s.accepted.Add(1)
	s.recipients.Add(int64(len(rcpts)))
	s.bytes.Add(size)
	if s.opts.CountOnly && !s.opts.CountIDs {
		return
	}
	id := ""
	if h, err := parseHeader(raw); err == nil {
		id = strings.TrimSpace(h.Get("Message-Id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.CountOnly {
		s.messages = append(s.messages, Message{From: from, To: rcpts, MessageID: id, Raw: raw, Conn: conn})
	}
	if id != "" {
		s.byID[id]++
	}
	for _, r := range rcpts {
		s.byRcpt[strings.ToLower(r)]++
	}
}

func (s *Server) answered(err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code/100 == 5 {
		s.permFail.Add(1)
	} else {
		s.tempFail.Add(1)
	}
	return err
}

func parseHeader(raw []byte) (textproto.MIMEHeader, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	return r.ReadMIMEHeader()
}

// Temporary is a 451 answer (local error, try again later) with the given
// text.
func Temporary(text string) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: text}
}

// Permanent is a 550 answer (mailbox unavailable) with the given text.
func Permanent(text string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: text}
}

// Reject answers err for the listed recipients (compared without case) and
// accepts the others; use it as OnRcpt.
func Reject(err error, rcpts ...string) func(string) error {
	set := make(map[string]bool, len(rcpts))
	for _, r := range rcpts {
		set[strings.ToLower(r)] = true
	}
	return func(rcpt string) error {
		if set[strings.ToLower(rcpt)] {
			return err
		}
		return nil
	}
}

// Share answers err to a random share (0 to 1) of the calls, drawn afresh
// each time from a generator seeded with seed, so a retry may succeed; use it
// as OnRcpt.
func Share(share float64, seed uint64, err error) func(string) error {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(string) error {
		mu.Lock()
		hit := rng.Float64() < share
		mu.Unlock()
		if hit {
			return err
		}
		return nil
	}
}

// FirstOf returns the first non-nil answer of fns, in order.
func FirstOf(fns ...func(string) error) func(string) error {
	return func(rcpt string) error {
		for _, f := range fns {
			if f == nil {
				continue
			}
			if err := f(rcpt); err != nil {
				return err
			}
		}
		return nil
	}
}

// session is one SMTP connection's state.
type session struct {
	s      *Server
	conn   uint64
	authed bool
	from   string
	rcpts  []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Auth == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.opts.Auth == nil || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		c := ss.s.opts.Auth
		if (identity != "" && identity != username) || username != c.Username || password != c.Password {
			ss.s.authFail.Add(1)
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Auth != nil && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.s.opts.OnRcpt; f != nil {
		if err := ss.s.answered(f(to)); err != nil {
			return err
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var raw []byte
	var n int64
	var err error
	if ss.s.opts.CountOnly {
		if ss.s.opts.CountIDs {
			// Keep the header only: record reads the Message-ID from it.
			raw, n, err = headerOnly(r)
		} else {
			n, err = io.Copy(io.Discard, r)
		}
	} else {
		raw, err = io.ReadAll(r)
		n = int64(len(raw))
	}
	if err != nil {
		return err
	}
	if f := ss.s.opts.OnData; f != nil {
		if err := ss.s.answered(f(ss.rcpts, raw)); err != nil {
			return err
		}
	}
	ss.s.record(ss.from, ss.rcpts, raw, n, ss.conn)
	return nil
}

// headerOnly reads a message, keeping its header (up to the blank line).
func headerOnly(r io.Reader) ([]byte, int64, error) {
	br := bufio.NewReader(r)
	var head []byte
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		n += int64(len(line))
		if len(head) < 64<<10 {
			head = append(head, line...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				return head, n, nil
			}
			return nil, n, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	rest, err := io.Copy(io.Discard, br)
	return head, n + rest, err
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
}

func (ss *session) Logout() error { return nil }
