package idp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/breach-engine/breach/internal/webhook"
)

// The webhook connector POSTs one JSON request per batch to the configured
// URL:
//
//	POST /breach/accounts HTTP/1.1
//	Content-Type: application/json
//	Breach-Signature: t=1764057600,v1=<hex HMAC-SHA256 of "1764057600.<body>">
//	Idempotency-Key: 3f0c...   (the same for every attempt at this batch)
//
//	{"action": "force_reset",          // or "revoke_sessions", "status", "check"
//	 "batch_key": "3f0c...",            // = Idempotency-Key
//	 "accounts": [{"account_id": "jdupont", "key": "inc-7/acct-42/reset"}, ...]}
//
// The receiver verifies the signature as package webhook describes (the
// timestamp within 5 minutes, the HMAC in constant time), then acts on each
// account, at most once per key: the engine retries a batch with the same
// keys and Idempotency-Key after a timeout, a 5xx or a 429 (Retry-After
// honoured), each attempt signed afresh. It answers 200 with one result per
// account, matched by key (or, without a key, by account_id):
//
//	{"results": [
//	  {"key": "inc-7/acct-42/reset", "account_id": "jdupont", "result": "done"},
//	  {"key": "inc-7/acct-43/reset", "account_id": "mmartin", "result": "failed", "reason": "not found"},
//	  {"key": "inc-7/acct-44/reset", "account_id": "pdurand", "result": "retry", "retry_after": 60}]}
//
// result is "done", "failed" (permanent, with a reason) or "retry"
// (temporary; retry_after in seconds, optional). For "status" each result
// carries "state": "complete" (the password was changed), "pending" or
// "unknown" instead of "result". "check" is sent by Connector.Check with no
// accounts: the answer is {"results": []}. Reasons are stored and shown to the DPO:
// they must not carry personal data (at most 200 characters are kept).
//
// An account missing from the results is retried later. 401 and 403 mean the
// receiver refuses the signature (the shared secret differs), 404, 405, 410
// and redirects a wrong URL, other 4xx a request the receiver does not
// understand: all are a *ConfigError, and the credential track pauses.
type webhookConnector struct {
	cfg    WebhookConfig
	secret []byte
	http   *caller
	opts   Options
}

// Webhook actions, as sent in "action".
const (
	actionForceReset     = "force_reset"
	actionRevokeSessions = "revoke_sessions"
	actionStatus         = "status"
	actionCheck          = "check"
)

func openWebhook(ctx context.Context, cfg WebhookConfig, opts Options) (*webhookConnector, error) {
	secret, err := opts.secret(ctx, KindWebhook, "webhook.secret", cfg.Secret)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &webhookConnector{
		cfg: cfg, secret: secret, opts: opts,
		http: &caller{kind: KindWebhook, client: opts.httpClient(timeout), opts: opts},
	}, nil
}

type webhookRequest struct {
	Action   string    `json:"action"`
	BatchKey string    `json:"batch_key"`
	Accounts []Account `json:"accounts"`
}

type webhookResult struct {
	Key        string `json:"key"`
	AccountID  string `json:"account_id"`
	Result     Result `json:"result"`
	State      State  `json:"state"`
	Reason     string `json:"reason"`
	RetryAfter int64  `json:"retry_after"` // seconds
}

type webhookResponse struct {
	Results *[]webhookResult `json:"results"`
}

// BatchKey is the Idempotency-Key of a batch: a digest of the action and of
// every account's ID and key, in order, so that a retried batch has the same
// one, and no account ID shows in a header.
func BatchKey(action string, accounts []Account) string {
	h := sha256.New()
	h.Write([]byte(action))
	for _, a := range accounts {
		h.Write([]byte{0})
		h.Write([]byte(a.ID))
		h.Write([]byte{0})
		h.Write([]byte(a.Key))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (c *webhookConnector) ForceReset(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.act(ctx, actionForceReset, accounts)
}

func (c *webhookConnector) RevokeSessions(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.act(ctx, actionRevokeSessions, accounts)
}

func (c *webhookConnector) act(ctx context.Context, action string, accounts []Account) ([]Outcome, error) {
	out := outcomes(accounts)
	send, idx := sendable(accounts)
	if len(send) == 0 {
		return out, nil
	}
	results, err := c.post(ctx, action, send)
	if err != nil {
		return out, err
	}
	for i, r := range matchResults(send, results) {
		o := &out[idx[i]]
		if r == nil {
			o.Result, o.Reason = Retry, "no result in the receiver's response"
			continue
		}
		switch r.Result {
		case Done, Failed, Retry:
			o.Result, o.Reason = r.Result, clip(r.Reason)
			if r.Result == Failed && o.Reason == "" {
				o.Reason = "refused by the receiver"
			}
			if r.Result == Retry {
				if o.Reason == "" {
					o.Reason = "the receiver asks to retry"
				}
				if r.RetryAfter > 0 {
					o.RetryAfter = time.Duration(min(r.RetryAfter, 1<<31)) * time.Second
				}
			}
		default:
			o.Result, o.Reason = Retry, "unknown result in the receiver's response"
		}
	}
	return out, nil
}

func (c *webhookConnector) Status(ctx context.Context, accounts []Account) ([]Status, error) {
	out := statuses(accounts)
	send, idx := sendable(accounts)
	if len(send) == 0 {
		return out, nil
	}
	results, err := c.post(ctx, actionStatus, send)
	if err != nil {
		return out, err
	}
	for i, r := range matchResults(send, results) {
		s := &out[idx[i]]
		if r == nil {
			s.Reason = "no result in the receiver's response"
			continue
		}
		switch r.State {
		case Complete, Pending, Unknown:
			s.State, s.Reason = r.State, clip(r.Reason)
		default:
			s.State, s.Reason = Unknown, "unknown state in the receiver's response"
		}
	}
	return out, nil
}

// Check sends the "check" action with no account: the receiver verifies the
// signature and answers {"results": []}.
func (c *webhookConnector) Check(ctx context.Context) error {
	_, err := c.post(ctx, actionCheck, []Account{})
	return err
}

func (c *webhookConnector) Close() error { return nil }

// post sends one batch and decodes the results.
func (c *webhookConnector) post(ctx context.Context, action string, accounts []Account) ([]webhookResult, error) {
	key := BatchKey(action, accounts)
	body, err := json.Marshal(webhookRequest{Action: action, BatchKey: key, Accounts: accounts})
	if err != nil {
		return nil, fmt.Errorf("idp webhook: encode request: %w", err)
	}
	op := "POST " + action
	res, err := c.http.do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "breach-engine (identity-provider webhook)")
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set(webhook.Header, webhook.Sign(c.secret, body, c.opts.Now()))
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	switch s := res.Status; {
	case s >= 200 && s < 300:
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, &ConfigError{Kind: KindWebhook, Field: "webhook.secret", Message: "the receiver refuses the signature: is the shared secret the same on both sides?", Err: statusError(res)}
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed || s == http.StatusGone:
		return nil, &ConfigError{Kind: KindWebhook, Field: "webhook.url", Message: "no such endpoint at the receiver", Err: statusError(res)}
	case s >= 300 && s < 400:
		return nil, &ConfigError{Kind: KindWebhook, Field: "webhook.url", Message: "the receiver redirects: configure the final URL", Err: statusError(res)}
	case s == http.StatusConflict:
		// The receiver is still working on this Idempotency-Key.
		ra, _ := retryAfter(res.Header.Get("Retry-After"), c.opts.Now())
		return nil, &TemporaryError{Kind: KindWebhook, Op: op, RetryAfter: ra, Err: statusError(res)}
	default:
		return nil, &ConfigError{Kind: KindWebhook, Message: "the receiver refuses the request", Err: statusError(res)}
	}
	var r webhookResponse
	if err := json.Unmarshal(res.Body, &r); err != nil || r.Results == nil {
		return nil, &ConfigError{Kind: KindWebhook, Field: "webhook.url", Message: fmt.Sprintf(`the receiver's answer (HTTP %d) is not {"results": [...]}`, res.Status)}
	}
	return *r.Results, nil
}

// sendable is the accounts with an ID, and their indexes in accounts.
func sendable(accounts []Account) ([]Account, []int) {
	send := make([]Account, 0, len(accounts))
	idx := make([]int, 0, len(accounts))
	for i, a := range accounts {
		if a.ID != "" {
			send = append(send, a)
			idx = append(idx, i)
		}
	}
	return send, idx
}

// matchResults pairs each account with its result: by key when the result
// has one, otherwise by account ID; each result is used once.
func matchResults(accounts []Account, results []webhookResult) []*webhookResult {
	out := make([]*webhookResult, len(accounts))
	byKey := map[string][]int{}
	byID := map[string][]int{}
	for i, a := range accounts {
		if a.Key != "" {
			byKey[a.Key] = append(byKey[a.Key], i)
		}
		byID[a.ID] = append(byID[a.ID], i)
	}
	take := func(m map[string][]int, k string) (int, bool) {
		for len(m[k]) > 0 {
			i := m[k][0]
			m[k] = m[k][1:]
			if out[i] == nil {
				return i, true
			}
		}
		return 0, false
	}
	for j := range results {
		r := &results[j]
		var i int
		var ok bool
		if r.Key != "" {
			i, ok = take(byKey, r.Key)
		} else if r.AccountID != "" {
			i, ok = take(byID, r.AccountID)
		}
		if ok {
			out[i] = r
		}
	}
	return out
}

// clip keeps reasons short.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary.
	for i := max; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i] + "..."
		}
	}
	return ""
}
