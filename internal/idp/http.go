package idp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponse bounds what is read of a response body.
const maxResponse = 8 << 20

// caller sends HTTP requests for a connector, retrying what may pass.
type caller struct {
	kind   string
	client *http.Client
	opts   Options
}

// response is a final answer: any status that is not retried, or the last
// one when it was not worth retrying further.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends the request build makes (a new one per attempt, so that bodies
// and signatures are fresh) and returns the first answer that is not
// temporary trouble. Network errors, 408, 429 and 5xx (but 501 and 505) are
// retried up to Options.MaxAttempts times, after Retry-After when the server
// gave one (up to MaxWait) or an exponential backoff. When the attempts run
// out, or Retry-After exceeds MaxWait, do returns a *TemporaryError. A
// failure no retry can fix (unknown host, TLS certificate) is a
// *ConfigError. Error messages never contain the URL (Keycloak's carry
// account IDs in the query).
func (c *caller) do(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error)) (*response, error) {
	var last error
	for attempt := 1; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return nil, &ConfigError{Kind: c.kind, Message: op + ": cannot build the request", Err: err}
		}
		res, err := c.client.Do(req)
		var wait, hint time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			err = transportError(err)
			if cerr := c.permanent(op, err); cerr != nil {
				return nil, cerr
			}
			last = err
		} else {
			body, rerr := io.ReadAll(io.LimitReader(res.Body, maxResponse))
			res.Body.Close()
			if !retryable(res.StatusCode) {
				if rerr != nil {
					last = fmt.Errorf("read response: %w", transportError(rerr))
				} else {
					return &response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
				}
			} else {
				last = fmt.Errorf("HTTP %d", res.StatusCode)
				if ra, ok := retryAfter(res.Header.Get("Retry-After"), c.opts.Now()); ok {
					wait, hint = ra, ra
					if ra > c.opts.MaxWait {
						return nil, &TemporaryError{Kind: c.kind, Op: op, RetryAfter: ra, Err: last}
					}
				}
			}
		}
		if attempt >= c.opts.MaxAttempts {
			return nil, &TemporaryError{Kind: c.kind, Op: op, RetryAfter: hint, Err: fmt.Errorf("%w (after %d attempts)", last, attempt)}
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		c.opts.Logger.WarnContext(ctx, "identity provider: retrying", "connector", c.kind, "op", op,
			"attempt", attempt, "wait", wait, "error", last.Error())
		if err := c.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// backoff is Backoff doubled per attempt, capped at MaxWait, with half of
// it random so that workers do not retry in step.
func (c *caller) backoff(attempt int) time.Duration {
	d := c.opts.Backoff << min(attempt-1, 16)
	if d > c.opts.MaxWait || d <= 0 {
		d = c.opts.MaxWait
	}
	half := d / 2
	return half + rand.N(half+1)
}

// permanent returns a ConfigError for transport failures retrying cannot
// fix: a host that does not exist, a certificate that does not verify.
func (c *caller) permanent(op string, err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &ConfigError{Kind: c.kind, Message: op + ": host not found", Err: err}
	}
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return &ConfigError{Kind: c.kind, Message: op + ": TLS certificate not trusted", Err: err}
	}
	if errors.As(err, &recordErr) {
		return &ConfigError{Kind: c.kind, Message: op + ": the server does not speak TLS", Err: err}
	}
	return nil
}

// transportError drops the URL from a client error.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

func retryable(status int) bool {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// statusError describes an unexpected answer: its status and, when the body
// is a short text or JSON error, the message it carries.
func statusError(res *response) error {
	return fmt.Errorf("HTTP %d%s", res.Status, bodyHint(res.Body))
}

// bodyHint quotes the message of a JSON error body ({"error": ...},
// {"error_description": ...}, {"errorMessage": ...}, {"message": ...}) and
// nothing else: a body might echo what was sent, account IDs included.
func bodyHint(body []byte) string {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"error", "error_description", "errorMessage", "message"} {
		switch v := e[k].(type) {
		case string:
			parts = append(parts, v)
		case map[string]any: // {"error": {"message": ...}}
			if m, ok := v["message"].(string); ok {
				parts = append(parts, m)
			}
		}
	}
	s := strings.TrimSpace(strings.Join(parts, ": "))
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return ": " + strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
}
