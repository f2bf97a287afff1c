package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Connector kinds.
const (
	KindWebhook  = "webhook"
	KindKeycloak = "keycloak"
	KindSQL      = "sql"
)

// Config chooses and configures an incident's connector. It is data (stored
// with the incident, shown to the DPO, carried in workflow payloads), so it
// never holds a secret: secrets are referenced (SecretRef) and read by the
// worker when the connector is opened. Examples:
//
//	{"kind": "webhook", "webhook": {
//	    "url": "https://idp.example.org/breach/accounts",
//	    "secret": "env:ACME_IDP_WEBHOOK_SECRET"}}
//
//	{"kind": "keycloak", "keycloak": {
//	    "base_url": "https://sso.example.org", "realm": "job-seekers",
//	    "client_id": "breach-engine", "client_secret": "file:/run/secrets/kc-breach",
//	    "lookup": "email"}}
//
//	{"kind": "sql", "sql": {
//	    "dsn": "env:ACME_USERS_DSN",
//	    "force_reset": "UPDATE users SET must_reset = true WHERE login = @account_id",
//	    "revoke_sessions": "DELETE FROM sessions WHERE login = @account_id",
//	    "status": "SELECT NOT must_reset FROM users WHERE login = @account_id"}}
type Config struct {
	Kind     string          `json:"kind"`
	Webhook  *WebhookConfig  `json:"webhook,omitempty"`
	Keycloak *KeycloakConfig `json:"keycloak,omitempty"`
	SQL      *SQLConfig      `json:"sql,omitempty"`
}

// WebhookConfig configures the webhook connector (webhook.go).
type WebhookConfig struct {
	// URL receives the POSTs: https, or http to a loopback address only.
	URL string `json:"url"`
	// Secret signs the requests (HMAC-SHA256): share it with the receiver.
	Secret SecretRef `json:"secret"`
	// Timeout bounds one request (default 30s).
	Timeout Duration `json:"timeout,omitempty"`
}

// KeycloakConfig configures the Keycloak connector (keycloak.go).
type KeycloakConfig struct {
	// BaseURL is Keycloak's root: https://sso.example.org, or with /auth
	// for versions before 17.
	BaseURL string `json:"base_url"`
	// Realm holds the accounts.
	Realm string `json:"realm"`
	// TokenRealm holds the client, when it is not Realm (e.g. "master").
	TokenRealm string `json:"token_realm,omitempty"`
	// ClientID and ClientSecret: a confidential client with service
	// accounts enabled and the realm-management roles view-users and
	// manage-users.
	ClientID     string    `json:"client_id"`
	ClientSecret SecretRef `json:"client_secret"`
	// Lookup says what an account ID is: "username" (default), "email", or
	// "id" (Keycloak's user ID).
	Lookup string `json:"lookup,omitempty"`
	// SendEmail sends Keycloak's execute-actions e-mail with UPDATE_PASSWORD
	// (default true); the required action is set either way.
	SendEmail *bool `json:"send_email,omitempty"`
	// EmailLifespan is how long the e-mailed link works (Keycloak's default
	// when 0).
	EmailLifespan Duration `json:"email_lifespan,omitempty"`
	// EmailClientID and RedirectURI: where the e-mailed link leads after the
	// reset (optional; RedirectURI needs EmailClientID).
	EmailClientID string `json:"email_client_id,omitempty"`
	RedirectURI   string `json:"redirect_uri,omitempty"`
	// Concurrency is how many accounts are handled at once (default 4).
	Concurrency int `json:"concurrency,omitempty"`
	// Timeout bounds one request (default 30s).
	Timeout Duration `json:"timeout,omitempty"`
}

// SQLConfig configures the sql connector (sql.go). Statements are single SQL
// statements with named parameters: @account_id (required, text) and @key
// (optional, the idempotency key).
type SQLConfig struct {
	// DSN of the organisation's user database (a postgres:// URL or
	// key=value string), referenced: it holds a password.
	DSN SecretRef `json:"dsn"`
	// ForceReset marks one account for a password reset; affecting no row
	// means the account was not found.
	ForceReset string `json:"force_reset"`
	// RevokeSessions ends one account's sessions.
	RevokeSessions string `json:"revoke_sessions"`
	// RevokeZeroRows is what affecting no row means for RevokeSessions:
	// "done" (default: the account had no session) or "not_found".
	RevokeZeroRows string `json:"revoke_sessions_zero_rows,omitempty"`
	// Status selects one boolean for one account: true when the reset is
	// complete; no row means not found. Optional: without it, completions
	// come by webhook and Status reports a ConfigError.
	Status string `json:"status,omitempty"`
	// Timeout bounds one batch (default 30s).
	Timeout Duration `json:"timeout,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s"; its errors are *json.UnmarshalTypeError so that
// the decoder names the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string", Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string", Type: durationType}
	}
	*d = Duration(v)
	return nil
}

var durationType = reflect.TypeFor[Duration]()

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "number"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	case reflect.Slice:
		return "array"
	}
	return t.Kind().String()
}

// SecretRef names where a secret is, never the secret itself:
//
//	env:NAME        the worker's environment variable NAME (not a BREACH_*
//	                variable: the engine's own secrets are never handed out)
//	file:/abs/path  the trimmed contents of a file on the worker (a mounted
//	                Kubernetes secret, a systemd credential); when
//	                Options.SecretDir is set, the file must be inside it
//
// Secrets are read when a connector is opened, so a rotated file takes
// effect at the next batch.
type SecretRef string

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r SecretRef) validate(field string) *breach.Error {
	scheme, rest, ok := strings.Cut(string(r), ":")
	switch {
	case r == "":
		return breach.Invalid(field, "is required (env:NAME or file:/path)")
	case !ok:
		return breach.Invalid(field, "must reference the secret as env:NAME or file:/path, not hold it")
	case scheme == "env":
		if !envName.MatchString(rest) {
			return breach.Invalid(field, "env: needs a variable name")
		}
		if strings.HasPrefix(strings.ToUpper(rest), "BREACH_") {
			return breach.Invalid(field, "may not reference the engine's own BREACH_* variables")
		}
	case scheme == "file":
		if !filepath.IsAbs(rest) {
			return breach.Invalid(field, "file: needs an absolute path")
		}
	default:
		return breach.Invalid(field, "must reference the secret as env:NAME or file:/path, not hold it")
	}
	return nil
}

// ParseConfig decodes a connector configuration strictly (unknown fields are
// errors) and validates it. Errors are breach.Errors naming each field
// ("keycloak.realm").
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeError(err)
	}
	if dec.More() {
		return Config{}, breach.Invalid("", "trailing data after the configuration")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, breach.Invalid("", "trailing data after the configuration")
	}
	return c, c.Validate()
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Type == durationType:
		return breach.Invalid(typeErr.Field, `must be a duration such as "30s"`)
	case errors.As(err, &typeErr):
		return breach.Invalid(typeErr.Field, "must be a JSON %s", jsonKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return breach.Invalid("", "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return breach.Invalid("", "empty configuration")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return breach.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	}
	return breach.Invalid("", "%v", err)
}

// Validate checks every field and returns breach.Errors naming each one at
// fault, or nil.
func (c Config) Validate() error {
	var es breach.Errors
	add := func(e *breach.Error) {
		if e != nil {
			es = append(es, e)
		}
	}
	switch c.Kind {
	case KindWebhook, KindKeycloak, KindSQL:
	case "":
		add(breach.Invalid("kind", "is required (webhook, keycloak or sql)"))
	default:
		add(breach.Invalid("kind", "must be webhook, keycloak or sql"))
	}
	sections := []struct {
		kind    string
		present bool
	}{{KindWebhook, c.Webhook != nil}, {KindKeycloak, c.Keycloak != nil}, {KindSQL, c.SQL != nil}}
	for _, s := range sections {
		if s.present && s.kind != c.Kind {
			add(breach.Invalid(s.kind, "only goes with kind %s", s.kind))
		}
		if !s.present && s.kind == c.Kind {
			add(breach.Invalid(s.kind, "is required with kind %s", s.kind))
		}
	}
	if c.Webhook != nil && c.Kind == KindWebhook {
		w := c.Webhook
		add(validURL("webhook.url", w.URL))
		add(w.Secret.validate("webhook.secret"))
		add(validTimeout("webhook.timeout", w.Timeout))
	}
	if c.Keycloak != nil && c.Kind == KindKeycloak {
		k := c.Keycloak
		add(validURL("keycloak.base_url", k.BaseURL))
		add(validName("keycloak.realm", k.Realm, true))
		add(validName("keycloak.token_realm", k.TokenRealm, false))
		add(validName("keycloak.client_id", k.ClientID, true))
		add(k.ClientSecret.validate("keycloak.client_secret"))
		switch k.Lookup {
		case "", "username", "email", "id":
		default:
			add(breach.Invalid("keycloak.lookup", "must be username, email or id"))
		}
		if k.EmailLifespan < 0 || (k.EmailLifespan > 0 && time.Duration(k.EmailLifespan) < time.Minute) {
			add(breach.Invalid("keycloak.email_lifespan", "must be at least a minute"))
		}
		add(validName("keycloak.email_client_id", k.EmailClientID, false))
		if k.RedirectURI != "" {
			if u, err := url.Parse(k.RedirectURI); err != nil || !u.IsAbs() {
				add(breach.Invalid("keycloak.redirect_uri", "must be an absolute URL"))
			}
			if k.EmailClientID == "" {
				add(breach.Invalid("keycloak.email_client_id", "is required with redirect_uri"))
			}
		}
		if k.Concurrency < 0 || k.Concurrency > 32 {
			add(breach.Invalid("keycloak.concurrency", "must be between 1 and 32"))
		}
		add(validTimeout("keycloak.timeout", k.Timeout))
	}
	if c.SQL != nil && c.Kind == KindSQL {
		s := c.SQL
		add(s.DSN.validate("sql.dsn"))
		add(validStatement("sql.force_reset", s.ForceReset, true))
		add(validStatement("sql.revoke_sessions", s.RevokeSessions, true))
		add(validStatement("sql.status", s.Status, false))
		switch s.RevokeZeroRows {
		case "", "done", "not_found":
		default:
			add(breach.Invalid("sql.revoke_sessions_zero_rows", `must be "done" or "not_found"`))
		}
		add(validTimeout("sql.timeout", s.Timeout))
	}
	return es.Err()
}

// validURL accepts absolute https URLs, and http ones to loopback addresses
// (account IDs are personal data: they do not travel in clear). Credentials
// belong in the secret, not in the URL.
func validURL(field, raw string) *breach.Error {
	if raw == "" {
		return breach.Invalid(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return breach.Invalid(field, "must be an absolute https URL")
	}
	if u.User != nil {
		return breach.Invalid(field, "must not carry credentials: use the secret")
	}
	if u.Fragment != "" {
		return breach.Invalid(field, "must not have a fragment")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return breach.Invalid(field, "must use https (http only to a loopback address)")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,255}$`)

func validName(field, v string, required bool) *breach.Error {
	if v == "" {
		if required {
			return breach.Invalid(field, "is required")
		}
		return nil
	}
	if !nameRE.MatchString(v) {
		return breach.Invalid(field, "may hold letters, digits and . _ ~ - only")
	}
	return nil
}

func validTimeout(field string, d Duration) *breach.Error {
	if d < 0 || time.Duration(d) > 10*time.Minute {
		return breach.Invalid(field, "must be between 0 (default) and 10m")
	}
	return nil
}

// validStatement checks the named parameters: @account_id is required (a
// statement without it would touch every account), @key allowed, nothing
// else. The SQL itself is checked against the database by Check.
func validStatement(field, sql string, required bool) *breach.Error {
	if strings.TrimSpace(sql) == "" {
		if required {
			return breach.Invalid(field, "is required")
		}
		return nil
	}
	if len(sql) > 16<<10 {
		return breach.Invalid(field, "is longer than 16 KiB")
	}
	_, args, err := pgx.NamedArgs{"account_id": paramAccount, "key": paramKey}.RewriteQuery(context.Background(), nil, sql, nil)
	if err != nil {
		return breach.Invalid(field, "cannot read its parameters: %v", err)
	}
	hasAccount := false
	for _, a := range args {
		switch a {
		case paramAccount:
			hasAccount = true
		case paramKey:
		default:
			return breach.Invalid(field, "uses a parameter other than @account_id and @key")
		}
	}
	if !hasAccount {
		return breach.Invalid(field, "must use @account_id")
	}
	return nil
}

type param int

const (
	paramAccount param = iota + 1
	paramKey
)

func firstField(err error) string {
	var e *breach.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// SecretResolver reads the secret a reference names.
type SecretResolver func(ctx context.Context, ref SecretRef) ([]byte, error)

// Options are the engine-wide settings of the connectors (the per-incident
// ones are in Config). The zero value is usable.
type Options struct {
	// HTTPClient sends the webhook and Keycloak requests; redirects are
	// never followed. Default: a client with the configured timeout.
	HTTPClient *http.Client
	// Secrets reads SecretRefs; default: ResolveSecret restricted to
	// SecretDir.
	Secrets SecretResolver
	// SecretDir, when set, is the only folder file: references may name.
	SecretDir string
	// Now is the clock (time.Now); Sleep waits (a timer honouring ctx).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxAttempts is how many times one HTTP request is tried on 5xx, 429
	// and network errors before the batch reports a TemporaryError
	// (default 4).
	MaxAttempts int
	// Backoff is the first wait between attempts, doubled each time
	// (default 500ms, capped at MaxWait).
	Backoff time.Duration
	// MaxWait is the longest wait the connector does itself, Retry-After
	// included (default 30s); a longer Retry-After ends the batch with a
	// TemporaryError carrying it, so the activity does not sit idle.
	MaxWait time.Duration
	// Logger gets warnings (IDs and statuses, never account IDs).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Secrets == nil {
		dir := o.SecretDir
		o.Secrets = func(ctx context.Context, ref SecretRef) ([]byte, error) { return resolveSecret(ref, dir) }
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ResolveSecret reads the secret ref names from the environment or a file
// (see SecretRef). Errors name the reference, never the value.
func ResolveSecret(ref SecretRef) ([]byte, error) { return resolveSecret(ref, "") }

func resolveSecret(ref SecretRef, dir string) ([]byte, error) {
	if err := ref.validate("secret"); err != nil {
		return nil, err
	}
	scheme, rest, _ := strings.Cut(string(ref), ":")
	var v string
	switch scheme {
	case "env":
		val, ok := os.LookupEnv(rest)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", rest)
		}
		v = val
	case "file":
		p := filepath.Clean(rest)
		if dir != "" {
			rel, err := filepath.Rel(filepath.Clean(dir), p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				return nil, fmt.Errorf("secret file %s is outside the secrets folder", p)
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read secret file %s: %w", p, errors.Unwrap(err))
		}
		v = string(b)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("secret %s is empty", ref)
	}
	return []byte(v), nil
}

// secret resolves one reference into a ConfigError when it cannot be read.
func (o Options) secret(ctx context.Context, kind, field string, ref SecretRef) ([]byte, error) {
	b, err := o.Secrets(ctx, ref)
	if err != nil {
		return nil, &ConfigError{Kind: kind, Field: field, Message: "cannot read the secret", Err: err}
	}
	return b, nil
}

// httpClient returns the client to use: never following redirects (a POST
// redirected would change meaning; a redirect is a configuration matter).
func (o Options) httpClient(timeout time.Duration) *http.Client {
	var c http.Client
	if o.HTTPClient != nil {
		c = *o.HTTPClient
	}
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
