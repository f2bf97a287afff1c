// Package idp drives the organisation's identity provider for the credential
// track: force a password reset, end the sessions, and ask whether the reset
// was completed, for a batch of accounts at a time.
//
// Three connectors implement Connector, chosen per incident by Config.Kind:
//
//   - "webhook": a signed JSON POST per batch to the organisation's endpoint
//     (webhook.go documents the request and the expected response);
//   - "keycloak": the Keycloak Admin REST API with a client-credentials token
//     (keycloak.go);
//   - "sql": parameterised statements against the organisation's own user
//     database, one transaction per batch (sql.go).
//
// # Outcomes and errors
//
// Each method returns one result per account, in the order of the accounts,
// whatever happens: an account is Done, Failed (permanently, with a reason:
// not found, refused) or Retry (temporarily not done: try it again later).
// The error, when there is one, is about the whole batch:
//
//   - *ConfigError: the connector is misconfigured (bad URL, bad SQL, wrong
//     credentials, missing permission, unknown realm). Retrying cannot fix it:
//     the credential track surfaces it to the DPO and pauses until the
//     configuration changes (activities report it as a non-retryable
//     application error of type ConfigErrorType).
//   - *TemporaryError: timeouts, 5xx, 429, connection failures that outlasted
//     the connector's own retries; RetryAfter, when known, says when to try
//     again.
//   - the context's error when ctx ended.
//
// With an error, the results of the accounts already processed stand (Done
// and Failed are true) and the others are Retry: the caller records them all.
//
// Results never carry secrets; reasons are short and never quote the account
// ID, so that they can be stored and shown. Account IDs (usernames, emails)
// are personal data: connectors never log them.
//
// # Idempotency
//
// Every Account carries Key, the engine's idempotency key for this account's
// action (stable across retries). The webhook connector sends the keys and an
// Idempotency-Key per batch derived from them; the sql connector's statements
// may use @key; the Keycloak API has no such key, so that connector makes its
// actions idempotent by reading the user first (keycloak.go).
package idp

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Connector is one identity provider, configured for one incident.
type Connector interface {
	// ForceReset makes each account change its password before it can be
	// used again (a must-reset flag, a required action, a reset e-mail).
	ForceReset(ctx context.Context, accounts []Account) ([]Outcome, error)
	// RevokeSessions ends each account's open sessions.
	RevokeSessions(ctx context.Context, accounts []Account) ([]Outcome, error)
	// Status reports whether each account completed its reset.
	Status(ctx context.Context, accounts []Account) ([]Status, error)
	// Check verifies the configuration against the live provider without
	// changing anything (credentials, permissions, statements): call it when
	// the configuration is set, so that mistakes show at once.
	Check(ctx context.Context) error
	// Close releases connections.
	Close() error
}

// Account is one account at the identity provider.
type Account struct {
	// ID identifies the account at the provider: a username, an e-mail
	// address or an internal ID, as the connector is configured.
	ID string `json:"account_id"`
	// Key is the engine's idempotency key for this account's action.
	Key string `json:"key"`
}

// Result is what happened to one account.
type Result string

const (
	Done   Result = "done"
	Failed Result = "failed" // permanently: Reason says why
	Retry  Result = "retry"  // temporarily not done: try again later
)

// Outcome is the result of an action for one account.
type Outcome struct {
	AccountID string `json:"account_id"`
	Key       string `json:"key"`
	Result    Result `json:"result"`
	// Reason says why for Failed and Retry ("not found", "rate limited");
	// for Done, an optional note ("no e-mail address: reset required at next
	// login").
	Reason string `json:"reason,omitempty"`
	// RetryAfter is the provider's hint for Retry (0: none).
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// State is where an account's reset stands.
type State string

const (
	Complete State = "complete" // the person changed the password
	Pending  State = "pending"  // the reset is still required
	Unknown  State = "unknown"  // not found, or not answerable now: see Reason
)

// Status is the reset state of one account.
type Status struct {
	AccountID string `json:"account_id"`
	Key       string `json:"key"`
	State     State  `json:"state"`
	Reason    string `json:"reason,omitempty"`
}

// Reasons shared by the connectors.
const (
	ReasonNotFound  = "not found"
	ReasonEmptyID   = "empty account id"
	ReasonAmbiguous = "several accounts match"
	ReasonNotTried  = "not tried: the batch stopped"
)

// ConfigErrorType is the application error type under which activities
// report a *ConfigError (non-retryable): the prefix is activities'.
const ConfigErrorType = "breach.idp_config"

// ConfigError is a misconfiguration that retrying cannot fix.
type ConfigError struct {
	Kind    string // connector kind
	Field   string // configuration field at fault ("sql.force_reset"), when known
	Message string // what is wrong; no secret, no account ID
	Err     error  // the cause, when there is one
}

func (e *ConfigError) Error() string {
	s := "identity provider (" + e.Kind + ") misconfigured: "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }

// TemporaryError is trouble that may pass: retry the batch later.
type TemporaryError struct {
	Kind       string
	Op         string        // what failed ("POST webhook", "token")
	RetryAfter time.Duration // the provider's hint, 0 when none
	Err        error
}

func (e *TemporaryError) Error() string {
	s := fmt.Sprintf("identity provider (%s): %s: temporary failure", e.Kind, e.Op)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *TemporaryError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is or wraps a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// RetryAfter returns the provider's retry hint carried by err (a wrapped
// *TemporaryError), and whether err is temporary at all.
func RetryAfter(err error) (time.Duration, bool) {
	var te *TemporaryError
	if errors.As(err, &te) {
		return te.RetryAfter, true
	}
	return 0, false
}

// outcomes starts the results of a batch: every account Retry (not tried)
// except those without an ID, Failed.
func outcomes(accounts []Account) []Outcome {
	out := make([]Outcome, len(accounts))
	for i, a := range accounts {
		out[i] = Outcome{AccountID: a.ID, Key: a.Key, Result: Retry, Reason: ReasonNotTried}
		if a.ID == "" {
			out[i].Result, out[i].Reason = Failed, ReasonEmptyID
		}
	}
	return out
}

// statuses starts the results of a status batch: every account Unknown.
func statuses(accounts []Account) []Status {
	out := make([]Status, len(accounts))
	for i, a := range accounts {
		out[i] = Status{AccountID: a.ID, Key: a.Key, State: Unknown, Reason: ReasonNotTried}
		if a.ID == "" {
			out[i].Reason = ReasonEmptyID
		}
	}
	return out
}

// Open returns the connector cfg describes. It validates cfg and resolves its
// secrets but does not contact the provider (see Connector.Check).
func Open(ctx context.Context, cfg Config, opts Options) (Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{Kind: cfg.Kind, Field: firstField(err), Message: "invalid configuration", Err: err}
	}
	opts = opts.withDefaults()
	switch cfg.Kind {
	case KindWebhook:
		return openWebhook(ctx, *cfg.Webhook, opts)
	case KindKeycloak:
		return openKeycloak(ctx, *cfg.Keycloak, opts)
	case KindSQL:
		return openSQL(ctx, *cfg.SQL, opts)
	}
	return nil, &ConfigError{Kind: cfg.Kind, Field: "kind", Message: "unknown connector kind"}
}
