package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"strings"
)

// Stage is the step of the SMTP exchange that failed.
type Stage string

const (
	StageConnect   Stage = "connect"     // dial, greeting, EHLO, STARTTLS, AUTH
	StageReset     Stage = "rset"        // RSET between two messages
	StageMail      Stage = "mail"        // MAIL FROM
	StageRcpt      Stage = "rcpt"        // RCPT TO
	StageData      Stage = "data"        // DATA and the message's bytes
	StageEndOfData Stage = "end-of-data" // the relay's answer to the whole message
)

var (
	// ErrBroken: an earlier failure left the connection unusable.
	ErrBroken = errors.New("the connection to the relay failed earlier: close it and open another")
	// ErrClosed: the connection was closed.
	ErrClosed = errors.New("the connection to the relay is closed")
)

// SendError is the relay's refusal of a message, or a failure to reach it.
//
// Permanent errors (5xx) are not to be retried for this message; temporary
// ones (4xx, and every network failure) are. A permanent error at
// StageConnect, StageReset or StageMail is about the session or the sender
// (authentication, policy), not the person: MessageRefused tells the two
// apart. Uncertain marks the one case where the relay may have taken the
// message: the connection failed after the whole message was sent, before
// the relay answered.
type SendError struct {
	Permanent bool
	Code      int    // the SMTP reply code; 0 when the relay did not answer
	Enhanced  string // the RFC 3463 enhanced status code ("5.1.1"), when given
	Response  string // the relay's text, addresses redacted
	Stage     Stage
	Uncertain bool  // sent in full, no answer: perhaps delivered
	Err       error // the network error, when the relay did not answer
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mail: %s failure at %s", kind, e.Stage)
	if e.Code != 0 {
		fmt.Fprintf(&b, ": %d", e.Code)
		if e.Response != "" {
			b.WriteString(" " + e.Response)
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Uncertain {
		b.WriteString(" (the message may have been delivered)")
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Temporary reports whether sending again later may succeed.
func (e *SendError) Temporary() bool { return !e.Permanent }

// MessageRefused reports a permanent refusal of this message or recipient
// (at RCPT or for the message's content): the ledger marks the row failed.
// Other permanent errors concern the whole session and every message alike.
func (e *SendError) MessageRefused() bool {
	return e.Permanent && (e.Stage == StageRcpt || e.Stage == StageData || e.Stage == StageEndOfData)
}

// stageError carries a failure and the stage it happened at, until classify.
type stageError struct {
	stage Stage
	err   error
}

func (e *stageError) Error() string { return string(e.stage) + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// classify turns a failure of the exchange into a SendError; rcpt is removed
// from the relay's text, which often quotes it.
func classify(err error, rcpt string) *SendError {
	stage := StageConnect
	var st *stageError
	if errors.As(err, &st) {
		stage = st.stage
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 200 && te.Code < 600 {
		e := &SendError{Code: te.Code, Stage: stage}
		e.Response, e.Enhanced = response(te.Msg, rcpt)
		// 5xx permanent, 4xx temporary, as the relay says. (RFC 5321
		// 4.5.3.1.10 suggests reading a 552 "mailbox full" to RCPT as 452;
		// a mailbox full for the length of a campaign is as good as gone,
		// so the relay's word is kept.)
		e.Permanent = te.Code >= 500
		return e
	}
	// No answer: the network failed, or the relay hung up. Whatever it
	// says, it is worth another try later; after the whole message went
	// out, it may also have been delivered.
	inner := err
	if st != nil {
		inner = st.err
	}
	return &SendError{Stage: stage, Err: scrub(inner, rcpt), Uncertain: stage == StageEndOfData}
}

// connectError classifies a failure to open a session: a refusal in words
// (authentication failed, STARTTLS required but not offered, a certificate
// that does not verify) is permanent until the configuration changes; a relay
// that cannot be reached is temporary.
func connectError(ctx context.Context, err error) error {
	se := classify(&stageError{StageConnect, err}, "")
	if se.Code == 0 {
		se.Permanent = !isNetwork(err)
		if ctx.Err() != nil {
			se.Permanent = false
			se.Err = errors.Join(ctx.Err(), se.Err)
		}
	}
	return se
}

// isNetwork reports the failures of the network itself, as opposed to a
// refusal by either end.
func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

var (
	enhancedRe = regexp.MustCompile(`^([245])\.\d{1,3}\.\d{1,3}\b`)
	addressRe  = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+`)
)

// maxResponse bounds the relay's text kept in a SendError (and the ledger).
const maxResponse = 500

// response cleans the relay's text: lines joined, addresses replaced by
// [address] (the recipient's first, even if the relay changed its case), cut
// to maxResponse bytes; and the enhanced status code it starts with.
func response(msg, rcpt string) (text, enhanced string) {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if m := enhancedRe.FindString(l); m != "" {
			if enhanced == "" {
				enhanced = m
			}
			l = strings.TrimSpace(l[len(m):])
		}
		lines[i] = l
	}
	text = redact(strings.Join(lines, " "), rcpt)
	if len(text) > maxResponse {
		cut := maxResponse
		for cut > 0 && (text[cut]&0xc0) == 0x80 { // keep UTF-8 whole
			cut--
		}
		text = text[:cut] + "…"
	}
	return text, enhanced
}

func redact(s, rcpt string) string {
	if rcpt != "" {
		s = replaceFold(s, rcpt, "[address]")
		// A relay may quote the local part alone; redact it when it is
		// long enough not to be an ordinary word ("full", "spam").
		if at := strings.LastIndexByte(rcpt, '@'); at >= 8 {
			s = replaceFold(s, rcpt[:at], "[address]")
		}
	}
	return addressRe.ReplaceAllString(s, "[address]")
}

// replaceFold replaces every occurrence of old in s, ignoring case.
func replaceFold(s, old, repl string) string {
	if old == "" || len(old) > len(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(old) <= len(s) && strings.EqualFold(s[i:i+len(old)], old) {
			b.WriteString(repl)
			i += len(old)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// scrub keeps a network error as the error chain it is (errors.Is still
// finds io.EOF, net.ErrClosed, context errors) unless its text quotes the
// recipient, in which case only a redacted text is kept.
func scrub(err error, rcpt string) error {
	if err == nil || rcpt == "" || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(rcpt)) {
		return err
	}
	return errors.New(redact(err.Error(), rcpt))
}
