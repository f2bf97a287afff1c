// Package webhook signs the engine's outbound webhooks and verifies the
// organisation's inbound ones (reset completions, abuse signals).
//
// The convention is Stripe's, which most webhook senders and receivers know:
//
//	Breach-Signature: t=1764057600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// t is the sending time in Unix seconds; v1 is the lowercase hex HMAC-SHA256,
// under the shared secret, of the signed payload: the decimal t, a full stop,
// and the raw request body, byte for byte ("1764057600.{...}"). A receiver
// recomputes the HMAC over the body it received, compares it in constant time,
// refuses a t further than the tolerance (default 5 minutes) from its own clock
// in either direction, and refuses a message it has accepted before (replay).
//
// Several v1 values may be given (a sender signing with the old and the new
// secret while it rotates), and a receiver may hold several secrets (the
// engine accepting the old and the new one while the organisation rotates):
// the message is authentic when any v1 matches any secret. Schemes other than
// v1 are ignored, so that a future scheme can be added alongside.
//
// Neither the path nor the method is signed (as with Stripe): bodies should
// say what they are, and the engine decodes them strictly.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the signature header, inbound and outbound.
const Header = "Breach-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock, in either direction.
const DefaultTolerance = 5 * time.Minute

// Limits on what a header may carry, so that a hostile one costs little.
const (
	maxHeaderLen  = 4096
	maxSignatures = 8
)

// The ways a signature is refused. Verify and VerifyAny return errors that
// errors.Is one of these; their messages name the problem, never the body.
var (
	ErrMissing      = errors.New("webhook signature: missing " + Header + " header")
	ErrMalformed    = errors.New("webhook signature: malformed " + Header + " header")
	ErrBadSignature = errors.New("webhook signature: does not match")
	ErrExpired      = errors.New("webhook signature: timestamp too old")
	ErrFuture       = errors.New("webhook signature: timestamp too far in the future")
	ErrReplayed     = errors.New("webhook signature: message already received")
	ErrNoSecret     = errors.New("webhook signature: no secret to verify with")
)

// Sign returns the header value signing body with secret at now:
// "t=<unix>,v1=<hex>".
func Sign(secret, body []byte, now time.Time) string {
	return SignAll([][]byte{secret}, body, now)
}

// SignAll signs body with every secret (one v1 each, in order): what a sender
// does while it rotates its secret.
func SignAll(secrets [][]byte, body []byte, now time.Time) string {
	t := now.Unix()
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(t, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, t, body)))
	}
	return b.String()
}

// mac is HMAC-SHA256(secret, "<t>.<body>").
func mac(secret []byte, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(t, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Signature is what a verified header said.
type Signature struct {
	// Timestamp is the signing time (t).
	Timestamp time.Time
	// Secret is the index, in the secrets given to VerifyAny, of the first
	// secret that matched: a sender still on an old secret shows up here.
	Secret int
}

// Verify checks that header is a valid signature of body under secret, made
// within tolerance of now (in either direction; 0 means DefaultTolerance).
// The error is nil or wraps one of ErrMissing, ErrMalformed, ErrBadSignature,
// ErrExpired, ErrFuture, ErrNoSecret.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	_, err := VerifyAny([][]byte{secret}, header, body, now, tolerance)
	return err
}

// VerifyAny is Verify accepting any of several secrets (rotation). Empty
// secrets are skipped; with none left it returns ErrNoSecret. Every v1 value
// is compared with every secret in constant time, the authenticity is decided
// before the timestamp is looked at, so that ErrExpired and ErrFuture only
// describe authentic messages (a replay of an old capture, a skewed clock).
func VerifyAny(secrets [][]byte, header string, body []byte, now time.Time, tolerance time.Duration) (Signature, error) {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	t, sigs, err := parse(header)
	if err != nil {
		return Signature{}, err
	}
	matched := -1
	usable := 0
	for i, s := range secrets {
		if len(s) == 0 {
			continue
		}
		usable++
		expected := mac(s, t, body)
		ok := 0
		for _, sig := range sigs {
			// hmac.Equal is constant time for equal lengths; parse made
			// every sig sha256.Size bytes long.
			if hmac.Equal(expected, sig) {
				ok = 1
			}
		}
		if ok == 1 && matched < 0 {
			matched = i
		}
	}
	if usable == 0 {
		return Signature{}, ErrNoSecret
	}
	if matched < 0 {
		return Signature{}, ErrBadSignature
	}
	ts := time.Unix(t, 0).UTC()
	switch age := now.Sub(ts); {
	case age > tolerance:
		return Signature{}, fmt.Errorf("%w (signed %s ago, tolerance %s)", ErrExpired, age.Truncate(time.Second), tolerance)
	case -age > tolerance:
		return Signature{}, fmt.Errorf("%w (signed %s ahead of our clock, tolerance %s)", ErrFuture, (-age).Truncate(time.Second), tolerance)
	}
	return Signature{Timestamp: ts, Secret: matched}, nil
}

// parse reads "t=<unix>,v1=<hex>[,v1=<hex>...]": exactly one t, at least one
// v1 (64 hex digits each), other schemes ignored.
func parse(header string) (int64, [][]byte, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0, nil, ErrMissing
	}
	if len(header) > maxHeaderLen {
		return 0, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeaderLen)
	}
	var (
		t     int64
		haveT bool
		sigs  [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: element without '='", ErrMalformed)
		}
		switch strings.TrimSpace(k) {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%w: t given twice", ErrMalformed)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n <= 0 {
				return 0, nil, fmt.Errorf("%w: t is not a Unix time in seconds", ErrMalformed)
			}
			t, haveT = n, true
		case "v1":
			if len(sigs) == maxSignatures {
				return 0, nil, fmt.Errorf("%w: more than %d v1 signatures", ErrMalformed, maxSignatures)
			}
			b, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: v1 is not %d hex digits", ErrMalformed, 2*sha256.Size)
			}
			sigs = append(sigs, b)
		}
	}
	if !haveT {
		return 0, nil, fmt.Errorf("%w: no t", ErrMalformed)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%w: no v1 signature", ErrMalformed)
	}
	return t, sigs, nil
}

// ReplayDigest identifies a signed message for replay protection: SHA-256
// over a domain label, t and the body. It does not depend on the secret, so
// that a captured message cannot be replayed by dropping one of its v1 values
// during a rotation; two senders would need the same body in the same second
// to collide, and a refused sender retries with a new t.
func ReplayDigest(t time.Time, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte("breach-webhook-replay-v1\x00"))
	h.Write([]byte(strconv.FormatInt(t.Unix(), 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
