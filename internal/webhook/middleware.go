package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Seen records the messages accepted so far: SeenWebhook stores digest until
// expires and reports replayed when it was stored already (and has not
// expired). *store.Store implements it on the webhook_seen table.
type Seen interface {
	SeenWebhook(ctx context.Context, digest []byte, expires time.Time) (replayed bool, err error)
}

// SecretsFunc returns the secrets that may have signed r: usually the one
// configured for the incident in r's path, two while it is being rotated. It
// must not read r.Body. An error or no secret refuses the request with 401
// (an unknown incident gets the same answer as a bad signature).
type SecretsFunc func(r *http.Request) ([][]byte, error)

// Single adapts a lookup of one secret per request (no rotation).
func Single(secret func(r *http.Request) ([]byte, error)) SecretsFunc {
	return func(r *http.Request) ([][]byte, error) {
		s, err := secret(r)
		if err != nil {
			return nil, err
		}
		return [][]byte{s}, nil
	}
}

// Options tune Middleware; the zero value is usable.
type Options struct {
	// Tolerance is how far t may be from now, both ways (DefaultTolerance).
	Tolerance time.Duration
	// MaxBody is the largest body accepted, in bytes (default 1 MiB); a
	// larger one is answered 413.
	MaxBody int64
	// Now is the clock (time.Now).
	Now func() time.Time
	// OnReject is called for every refused request, before the answer is
	// written, with the reason (an error wrapping one of the Err values of
	// this package, or the SecretsFunc's or Seen's error). The engine audits
	// it there (store.RecordRejection). Its messages hold no body content.
	OnReject func(r *http.Request, err error)
}

// ErrTooLarge refuses a body larger than Options.MaxBody.
var ErrTooLarge = errors.New("webhook: body too large")

const defaultMaxBody = 1 << 20

type ctxKey struct{}

// FromContext returns the verified signature of the request whose context
// ctx is, inside a handler behind Middleware.
func FromContext(ctx context.Context) (Signature, bool) {
	s, ok := ctx.Value(ctxKey{}).(Signature)
	return s, ok
}

// Middleware verifies the signature of every request before calling next:
// the Breach-Signature header against the raw body under the secrets that
// secrets returns, the timestamp against the tolerance, and then, for an
// authentic and fresh message, that it was not accepted before (seen; nil
// disables replay protection). Any verification failure is answered 401
// with a JSON error {"error":{"code":"unauthenticated","message":...}} and
// next is not called; a failure of seen itself (the database) is answered 503
// so that the sender retries. next gets the body, still readable, and the
// Signature in the request context (FromContext).
//
// A message is remembered until its timestamp leaves the tolerance window
// (plus a minute), after which the timestamp check refuses it anyway.
func Middleware(secrets SecretsFunc, seen Seen, opts Options) func(http.Handler) http.Handler {
	if opts.Tolerance <= 0 {
		opts.Tolerance = DefaultTolerance
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = defaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reject := func(status int, err error) {
				if opts.OnReject != nil {
					opts.OnReject(r, err)
				}
				code, msg := "unauthenticated", err.Error()
				if errors.Is(err, ErrNoSecret) {
					// No oracle for which incidents exist or have a secret.
					msg = ErrBadSignature.Error()
				}
				switch status {
				case http.StatusRequestEntityTooLarge:
					code = "invalid"
				case http.StatusServiceUnavailable:
					code, msg = "internal", "webhook: cannot check for replays now, retry later"
					w.Header().Set("Retry-After", "5")
				}
				writeError(w, status, code, msg)
			}

			header := r.Header.Get(Header)
			if header == "" {
				reject(http.StatusUnauthorized, ErrMissing)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, opts.MaxBody))
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					reject(http.StatusRequestEntityTooLarge, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, opts.MaxBody))
					return
				}
				reject(http.StatusUnauthorized, fmt.Errorf("webhook: read body: %w", err))
				return
			}
			keys, err := secrets(r)
			if err != nil {
				reject(http.StatusUnauthorized, fmt.Errorf("%w: %w", ErrNoSecret, err))
				return
			}
			sig, err := VerifyAny(keys, header, body, opts.Now(), opts.Tolerance)
			if err != nil {
				reject(http.StatusUnauthorized, err)
				return
			}
			if seen != nil {
				expires := sig.Timestamp.Add(opts.Tolerance + time.Minute)
				replayed, err := seen.SeenWebhook(r.Context(), ReplayDigest(sig.Timestamp, body), expires)
				if err != nil {
					reject(http.StatusServiceUnavailable, fmt.Errorf("webhook: replay check: %w", err))
					return
				}
				if replayed {
					reject(http.StatusUnauthorized, ErrReplayed)
					return
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sig)))
		})
	}
}

// writeError answers in the shape of the JSON API's errors.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
