package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/webhook"
)

var (
	secret    = []byte("whsec_3f9a1c0e8b7d4a2f")
	newSecret = []byte("whsec_rotated_71c2d9e4")
	body      = []byte(`{"accounts":["jdupont","mmartin"],"completed_at":"2026-11-26T10:00:00Z"}`)
	now       = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
)

// TestSignMatchesTheConvention recomputes the header by hand: what a receiver
// written from the documentation (or Stripe's libraries' logic) expects.
func TestSignMatchesTheConvention(t *testing.T) {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "%d.%s", now.Unix(), body)
	want := fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(h.Sum(nil)))
	if got := webhook.Sign(secret, body, now); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	valid := webhook.Sign(secret, body, now)
	ts := fmt.Sprint(now.Unix())
	sigOf := func(h string) string { _, v, _ := strings.Cut(h, ",v1="); return v }
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, valid, body, now, nil},
		{"valid with spaces", secret, "t=" + ts + ", v1=" + sigOf(valid), body, now, nil},
		{"unknown scheme ignored", secret, "t=" + ts + ",v0=abc,v1=" + sigOf(valid), body, now, nil},
		{"at the edge of the tolerance (old)", secret, valid, body, now.Add(5 * time.Minute), nil},
		{"at the edge of the tolerance (ahead)", secret, valid, body, now.Add(-5 * time.Minute), nil},

		{"missing", secret, "", body, now, webhook.ErrMissing},
		{"blank", secret, "   ", body, now, webhook.ErrMissing},
		{"no t", secret, "v1=" + sigOf(valid), body, now, webhook.ErrMalformed},
		{"no v1", secret, "t=" + ts, body, now, webhook.ErrMalformed},
		{"t not a number", secret, "t=yesterday,v1=" + sigOf(valid), body, now, webhook.ErrMalformed},
		{"t negative", secret, "t=-5,v1=" + sigOf(valid), body, now, webhook.ErrMalformed},
		{"t twice", secret, "t=" + ts + ",t=" + ts + ",v1=" + sigOf(valid), body, now, webhook.ErrMalformed},
		{"v1 not hex", secret, "t=" + ts + ",v1=zz" + sigOf(valid)[2:], body, now, webhook.ErrMalformed},
		{"v1 too short", secret, "t=" + ts + ",v1=" + sigOf(valid)[:40], body, now, webhook.ErrMalformed},
		{"element without =", secret, valid + ",oops", body, now, webhook.ErrMalformed},
		{"bare signature", secret, sigOf(valid), body, now, webhook.ErrMalformed},
		{"too long", secret, valid + strings.Repeat(",x=y", 2000), body, now, webhook.ErrMalformed},
		{"too many v1", secret, "t=" + ts + strings.Repeat(",v1="+sigOf(valid), 9), body, now, webhook.ErrMalformed},

		{"wrong secret", []byte("whsec_someone_else"), valid, body, now, webhook.ErrBadSignature},
		{"body changed", secret, valid, append([]byte(nil), append(body[:len(body)-1], ' ', '}')...), now, webhook.ErrBadSignature},
		{"timestamp changed", secret, "t=" + fmt.Sprint(now.Unix()+1) + ",v1=" + sigOf(valid), body, now, webhook.ErrBadSignature},
		{"no secret", nil, valid, body, now, webhook.ErrNoSecret},

		{"too old", secret, valid, body, now.Add(5*time.Minute + time.Second), webhook.ErrExpired},
		{"a day old", secret, valid, body, now.Add(24 * time.Hour), webhook.ErrExpired},
		{"too far ahead", secret, valid, body, now.Add(-5*time.Minute - time.Second), webhook.ErrFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhook.Verify(c.secret, c.header, c.body, c.now, 5*time.Minute)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "jdupont") {
				t.Errorf("error quotes the body: %v", err)
			}
		})
	}
}

// A stale signature with a wrong MAC is a bad signature, not "expired": the
// timestamp of a forgery says nothing.
func TestVerifyChecksAuthenticityBeforeTime(t *testing.T) {
	old := webhook.Sign([]byte("not the secret"), body, now.Add(-time.Hour))
	if err := webhook.Verify(secret, old, body, now, 0); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("Verify = %v, want ErrBadSignature", err)
	}
}

func TestDefaultTolerance(t *testing.T) {
	h := webhook.Sign(secret, body, now)
	if err := webhook.Verify(secret, h, body, now.Add(webhook.DefaultTolerance-time.Second), 0); err != nil {
		t.Fatalf("within the default tolerance: %v", err)
	}
	if err := webhook.Verify(secret, h, body, now.Add(webhook.DefaultTolerance+time.Second), 0); !errors.Is(err, webhook.ErrExpired) {
		t.Fatalf("beyond the default tolerance: %v", err)
	}
}

// Rotation, both ways round: the sender signs with the old and the new
// secret at once; the receiver holds the old and the new one.
func TestRotation(t *testing.T) {
	t.Run("sender signs with both", func(t *testing.T) {
		h := webhook.SignAll([][]byte{secret, newSecret}, body, now)
		if strings.Count(h, "v1=") != 2 {
			t.Fatalf("header %q: want two v1", h)
		}
		for _, s := range [][]byte{secret, newSecret} {
			if err := webhook.Verify(s, h, body, now, 0); err != nil {
				t.Errorf("Verify with one of the two secrets: %v", err)
			}
		}
		if err := webhook.Verify([]byte("retired long ago"), h, body, now, 0); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("a third secret: %v", err)
		}
	})
	t.Run("receiver holds both", func(t *testing.T) {
		keys := [][]byte{newSecret, secret}
		sig, err := webhook.VerifyAny(keys, webhook.Sign(secret, body, now), body, now, 0)
		if err != nil || sig.Secret != 1 {
			t.Fatalf("old secret: %+v, %v; want secret index 1", sig, err)
		}
		sig, err = webhook.VerifyAny(keys, webhook.Sign(newSecret, body, now), body, now, 0)
		if err != nil || sig.Secret != 0 || !sig.Timestamp.Equal(now) {
			t.Fatalf("new secret: %+v, %v; want secret index 0 at %v", sig, err, now)
		}
		if _, err := webhook.VerifyAny(keys, webhook.Sign([]byte("other"), body, now), body, now, 0); !errors.Is(err, webhook.ErrBadSignature) {
			t.Fatalf("neither: %v", err)
		}
		if _, err := webhook.VerifyAny([][]byte{nil, {}}, webhook.Sign(secret, body, now), body, now, 0); !errors.Is(err, webhook.ErrNoSecret) {
			t.Fatalf("only empty secrets: %v", err)
		}
	})
}

func TestReplayDigest(t *testing.T) {
	a := webhook.ReplayDigest(now, body)
	if len(a) != sha256.Size {
		t.Fatalf("digest of %d bytes", len(a))
	}
	if !hmac.Equal(a, webhook.ReplayDigest(now, body)) {
		t.Error("digest not stable")
	}
	if hmac.Equal(a, webhook.ReplayDigest(now.Add(time.Second), body)) || hmac.Equal(a, webhook.ReplayDigest(now, body[1:])) {
		t.Error("digest ignores the timestamp or the body")
	}
}
