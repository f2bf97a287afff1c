// Package config reads the engine's configuration from BREACH_* environment
// variables. Every variable is declared once, in the table below, which serves
// both to load the configuration and to document it in `breach --help`.
// Secrets (and the TLS material) also accept a NAME_FILE variant naming a file
// whose trimmed contents are the value, so that they can come from a mounted
// Kubernetes secret, a systemd credential or a Docker secret.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/codec"
)

// Config is the engine's configuration. Fields hold values, never file names:
// a NAME_FILE variable has already been read into its field.
type Config struct {
	DatabaseURL string

	TemporalAddress       string
	TemporalNamespace     string
	TemporalTLSCert       string // PEM
	TemporalTLSKey        string // PEM
	TemporalTLSCA         string // PEM
	TemporalTLSServerName string
	TemporalAPIKey        string
	TaskQueue             string

	HTTPAddr        string
	CodecCORSOrigin string
	CookieSecure    bool // the web session cookie is Secure (HTTPS only)

	PayloadKey string // key spec, see codec.ParseKeys
	DataKey    string // key spec, same format
	// InboundSecrets verify the signed webhooks the organisation sends to the
	// engine (reset completions, abuse signals); several while rotating.
	InboundSecrets [][]byte
	// IdPSecretDir is the only folder the identity-provider connectors'
	// file: secret references may name ("" : any absolute path).
	IdPSecretDir string

	LogFormat string // "text" or "json"
	LogLevel  slog.Level

	DevDir          string
	ReminderOffsets []time.Duration // before each deadline, longest first
	// RetentionAfterClose is how long after an incident's closure the
	// contact data of its people is kept before the purge (GDPR Art. 5(1)(e)).
	RetentionAfterClose time.Duration
	// MonitoringPeriod is how long the follow-up monitoring runs after the
	// forced password reset starts.
	MonitoringPeriod time.Duration

	URL   string // the breach server the CLI talks to
	Token string // the CLI's API token

	// The mail relay that sends the letters to the people concerned (Art. 34).
	SMTPHost         string
	SMTPPort         int
	SMTPTLS          string // mandatory, opportunistic, none or implicit
	SMTPUsername     string
	SMTPPassword     string
	SMTPFrom         string  // sender address, "name@domain" or "Name <name@domain>"
	SMTPRate         float64 // messages per second per connection; 0: unlimited
	SMTPConnections  int
	SMTPTimeout      time.Duration
	SMTPDKIMKey      string // PEM private key, RSA or Ed25519
	SMTPDKIMSelector string
	SMTPDKIMDomain   string
	SMTPHELO         string

	// OpenID Connect sign-in to the web pages: off unless OIDCIssuer is set.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCRedirectURL  string
	OIDCRoleClaim    string        // a string or array claim of the ID token
	OIDCRoleMap      []RoleMapping // claim value -> role, in the order given
	OIDCScopes       []string

	// Set lists the variables that were given (directly or through _FILE),
	// as opposed to left at their default.
	Set map[string]bool
}

// RoleMapping maps one value of the OpenID Connect role claim to a role of
// the engine ("dpo", "approver", "auditor" or "admin").
type RoleMapping struct {
	Value string
	Role  string
}

// OIDC reports whether OpenID Connect sign-in is configured.
func (c Config) OIDC() bool { return c.OIDCIssuer != "" }

// Var describes one environment variable.
type Var struct {
	Name    string
	Default string
	// Secret values are never printed; they, and the TLS material, accept
	// Name+"_FILE".
	Secret bool
	// File says that Name+"_FILE" is accepted.
	File bool
	// Group heads the variable's section in the help text.
	Group string
	Desc  string
	set   func(c *Config, v string) error
}

// Vars is the table of every variable the engine reads, in help order.
var Vars = []Var{
	{Name: "BREACH_DATABASE_URL", Secret: true, File: true, Group: "Storage",
		Desc: "PostgreSQL connection string (postgres://user:pass@host:5432/db?sslmode=...). " +
			"Required by serve, worker and migrate; `breach dev` starts a private cluster when unset.",
		set: func(c *Config, v string) error { c.DatabaseURL = v; return validDatabaseURL(v) }},

	{Name: "BREACH_TEMPORAL_ADDRESS", Default: "127.0.0.1:7233", Group: "Temporal",
		Desc: "host:port of the Temporal frontend.",
		set:  func(c *Config, v string) error { c.TemporalAddress = v; return validHostPort(v) }},
	{Name: "BREACH_TEMPORAL_NAMESPACE", Default: "default", Group: "Temporal",
		Desc: "Temporal namespace holding the incident workflows.",
		set:  func(c *Config, v string) error { c.TemporalNamespace = v; return nil }},
	{Name: "BREACH_TEMPORAL_TLS_CERT", File: true, Group: "Temporal",
		Desc: "PEM client certificate for mutual TLS with Temporal (with BREACH_TEMPORAL_TLS_KEY).",
		set:  func(c *Config, v string) error { c.TemporalTLSCert = v; return validPEM(v) }},
	{Name: "BREACH_TEMPORAL_TLS_KEY", Secret: true, File: true, Group: "Temporal",
		Desc: "PEM private key of the client certificate.",
		set:  func(c *Config, v string) error { c.TemporalTLSKey = v; return validPEM(v) }},
	{Name: "BREACH_TEMPORAL_TLS_CA", File: true, Group: "Temporal",
		Desc: "PEM CA certificate(s) to verify the Temporal server; default: the system roots. Setting any " +
			"BREACH_TEMPORAL_TLS_* variable turns TLS on.",
		set: func(c *Config, v string) error { c.TemporalTLSCA = v; return validPEM(v) }},
	{Name: "BREACH_TEMPORAL_TLS_SERVER_NAME", Group: "Temporal",
		Desc: "Server name to verify in the Temporal server's certificate; default: the address's host.",
		set:  func(c *Config, v string) error { c.TemporalTLSServerName = v; return nil }},
	{Name: "BREACH_TEMPORAL_API_KEY", Secret: true, File: true, Group: "Temporal",
		Desc: "API key for Temporal Cloud or a server that accepts bearer keys; turns TLS on.",
		set:  func(c *Config, v string) error { c.TemporalAPIKey = v; return nil }},
	{Name: "BREACH_TASK_QUEUE", Default: "breach", Group: "Temporal",
		Desc: "Task queue the workers poll and the server starts workflows on.",
		set:  func(c *Config, v string) error { c.TaskQueue = v; return nil }},

	{Name: "BREACH_HTTP_ADDR", Default: "127.0.0.1:8080", Group: "HTTP server",
		Desc: "host:port `breach serve` listens on (use 0.0.0.0:8080 in a container).",
		set:  func(c *Config, v string) error { c.HTTPAddr = v; return validHostPort(v) }},
	{Name: "BREACH_CODEC_CORS_ORIGIN", Group: "HTTP server",
		Desc: "Origin of the Temporal UI (e.g. http://localhost:8233) allowed to call the codec endpoint " +
			"<BREACH_URL>/codec from a browser; empty: no CORS.",
		set: func(c *Config, v string) error { c.CodecCORSOrigin = strings.TrimRight(v, "/"); return validOrigin(v) }},
	{Name: "BREACH_COOKIE_SECURE", Default: "true", Group: "HTTP server",
		Desc: "Mark the web pages' session cookies Secure (sent over HTTPS only) and send HSTS. Keep true behind " +
			"HTTPS; `breach dev` on plain http sets it false unless given.",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New(`must be "true" or "false"`)
			}
			c.CookieSecure = b
			return nil
		}},

	{Name: "BREACH_PAYLOAD_KEY", Secret: true, File: true, Group: "Encryption",
		Desc: "Key encrypting Temporal payloads: base64 of 32 random bytes (`openssl rand -base64 32`), or " +
			"\"keyid:base64,oldid:base64\" to rotate (the first encrypts, all decrypt). Required by serve and worker.",
		set: func(c *Config, v string) error { c.PayloadKey = v; return validKeySpec(v) }},
	{Name: "BREACH_DATA_KEY", Secret: true, File: true, Group: "Encryption",
		Desc: "Key sealing the contact data of affected people at rest in Postgres (and keying their blind index), same " +
			"format as BREACH_PAYLOAD_KEY; use a different key. Required by serve and worker; to rotate, put the new key " +
			"first and keep the old ones after it (see internal/vault).",
		set: func(c *Config, v string) error { c.DataKey = v; return validKeySpec(v) }},

	{Name: "BREACH_INBOUND_SECRET", Secret: true, File: true, Group: "Encryption",
		Desc: "Secret(s) the organisation signs its webhooks to the engine with (reset completions, abuse signals): " +
			"HMAC-SHA256 over the timestamp and body in the Breach-Signature header (t=...,v1=...). Comma-separated " +
			"while rotating, each at least 32 characters; unset: those endpoints answer 401.",
		set: func(c *Config, v string) error {
			c.InboundSecrets = nil
			for i, s := range strings.Split(v, ",") {
				s = strings.TrimSpace(s)
				if len(s) < 32 {
					return fmt.Errorf("secret %d is shorter than 32 characters", i+1)
				}
				c.InboundSecrets = append(c.InboundSecrets, []byte(s))
			}
			return nil
		}},

	{Name: "BREACH_IDP_SECRET_DIR", Group: "Encryption",
		Desc: "Folder the identity-provider connectors' file: secret references must be in (the credential track's " +
			"configuration names its secrets as env:NAME or file:/path, never holds them); unset: any absolute path.",
		set: func(c *Config, v string) error {
			c.IdPSecretDir = v
			if v != "" && !filepath.IsAbs(v) {
				return errors.New("must be an absolute path")
			}
			return nil
		}},

	{Name: "BREACH_LOG_FORMAT", Default: "text", Group: "Logging",
		Desc: "text or json (use json in production).",
		set: func(c *Config, v string) error {
			c.LogFormat = v
			if v != "text" && v != "json" {
				return errors.New(`must be "text" or "json"`)
			}
			return nil
		}},
	{Name: "BREACH_LOG_LEVEL", Default: "info", Group: "Logging",
		Desc: "debug, info, warn or error.",
		set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return errors.New(`must be "debug", "info", "warn" or "error"`)
			}
			return nil
		}},

	{Name: "BREACH_REMINDER_OFFSETS", Default: "48h,24h,6h", Group: "Deadlines",
		Desc: "Comma-separated durations before each regulatory deadline at which reminders are sent.",
		set: func(c *Config, v string) (err error) {
			c.ReminderOffsets, err = ParseOffsets(v)
			return err
		}},
	{Name: "BREACH_RETENTION_AFTER_CLOSE", Default: "90d", Group: "Deadlines",
		Desc: "How long after an incident is closed the contact data of its people is kept before it is destroyed " +
			"(GDPR Art. 5(1)(e)): days (90d) or a Go duration (2160h). Fixed for each incident when it is opened.",
		set: func(c *Config, v string) (err error) {
			c.RetentionAfterClose, err = ParseRetention(v)
			return err
		}},
	{Name: "BREACH_MONITORING_PERIOD", Default: "90d", Group: "Deadlines",
		Desc: "How long the follow-up monitoring (reminders, abuse signals, weekly reports) runs after the forced " +
			"password reset starts: days (90d) or a Go duration. Fixed for each incident when it is opened.",
		set: func(c *Config, v string) (err error) {
			c.MonitoringPeriod, err = ParseRetention(v)
			return err
		}},

	{Name: "BREACH_DEV_DIR", Default: ".breach", Group: "Development",
		Desc: "Folder where `breach dev` keeps its state: Temporal database, Postgres cluster, development keys.",
		set:  func(c *Config, v string) error { c.DevDir = v; return nil }},

	{Name: "BREACH_SMTP_HOST", Group: "Mail relay",
		Desc: "Host name of the SMTP relay that sends the letters to the people concerned. Required to send.",
		set:  func(c *Config, v string) error { c.SMTPHost = v; return validSMTPHost(v) }},
	{Name: "BREACH_SMTP_PORT", Default: "587", Group: "Mail relay",
		Desc: "Port of the relay: 587 (submission, STARTTLS); 465 is the default with BREACH_SMTP_TLS=implicit.",
		set: func(c *Config, v string) (err error) {
			c.SMTPPort, err = intIn(v, 1, 65535)
			return err
		}},
	{Name: "BREACH_SMTP_TLS", Default: "mandatory", Group: "Mail relay",
		Desc: "TLS policy: mandatory (STARTTLS required), implicit (TLS from the first byte, port 465), " +
			"opportunistic (STARTTLS when the relay offers it) or none (plain text: local relays and tests only).",
		set: func(c *Config, v string) error {
			c.SMTPTLS = v
			if !slices.Contains([]string{"mandatory", "implicit", "opportunistic", "none"}, v) {
				return errors.New(`must be "mandatory", "implicit", "opportunistic" or "none"`)
			}
			return nil
		}},
	{Name: "BREACH_SMTP_USERNAME", Group: "Mail relay",
		Desc: "User name for SMTP authentication, with BREACH_SMTP_PASSWORD; unset: no authentication.",
		set:  func(c *Config, v string) error { c.SMTPUsername = v; return nil }},
	{Name: "BREACH_SMTP_PASSWORD", Secret: true, File: true, Group: "Mail relay",
		Desc: "Password for SMTP authentication.",
		set:  func(c *Config, v string) error { c.SMTPPassword = v; return nil }},
	{Name: "BREACH_SMTP_FROM", Group: "Mail relay",
		Desc: "Sender of the letters (From and envelope sender): name@domain or \"Name <name@domain>\". " +
			"Required to send; its domain also ends every Message-ID.",
		set: func(c *Config, v string) error { c.SMTPFrom = v; return validMailbox(v) }},
	{Name: "BREACH_SMTP_RATE", Default: "50", Group: "Mail relay",
		Desc: "Messages per second on each connection to the relay; 0: no limit.",
		set: func(c *Config, v string) error {
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
				return errors.New("want a number of messages per second, 0 or more")
			}
			c.SMTPRate = r
			return nil
		}},
	{Name: "BREACH_SMTP_CONNECTIONS", Default: "4", Group: "Mail relay",
		Desc: "Connections to the relay that a worker process opens at most, each reused for many messages.",
		set: func(c *Config, v string) (err error) {
			c.SMTPConnections, err = intIn(v, 1, 1000)
			return err
		}},
	{Name: "BREACH_SMTP_TIMEOUT", Default: "30s", Group: "Mail relay",
		Desc: "How long to wait for the relay to connect or to answer a command.",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return errors.New("want a positive duration such as 30s")
			}
			c.SMTPTimeout = d
			return nil
		}},
	{Name: "BREACH_SMTP_DKIM_KEY", Secret: true, File: true, Group: "Mail relay",
		Desc: "PEM private key (RSA or Ed25519) to sign every letter with DKIM; set: signing on, with " +
			"BREACH_SMTP_DKIM_SELECTOR.",
		set: func(c *Config, v string) error { c.SMTPDKIMKey = v; return validPEM(v) }},
	{Name: "BREACH_SMTP_DKIM_SELECTOR", Group: "Mail relay",
		Desc: "DKIM selector: the public key is published at <selector>._domainkey.<domain>.",
		set:  func(c *Config, v string) error { c.SMTPDKIMSelector = v; return validDNSLabel(v) }},
	{Name: "BREACH_SMTP_DKIM_DOMAIN", Group: "Mail relay",
		Desc: "DKIM signing domain (d=); default: the domain of BREACH_SMTP_FROM.",
		set:  func(c *Config, v string) error { c.SMTPDKIMDomain = strings.ToLower(v); return validDomain(v) }},
	{Name: "BREACH_SMTP_HELO", Group: "Mail relay",
		Desc: "Name this host gives in EHLO; default: the machine's host name.",
		set:  func(c *Config, v string) error { c.SMTPHELO = v; return validDomain(v) }},

	{Name: "BREACH_OIDC_ISSUER", Group: "OpenID Connect sign-in",
		Desc: "Issuer URL of the OpenID Connect provider, exactly as its ID tokens spell it (its /.well-known/openid-configuration is read at the first " +
			"sign-in); set: the sign-in page offers \"Sign in with <provider>\", with BREACH_OIDC_CLIENT_ID, " +
			"BREACH_OIDC_REDIRECT_URL and BREACH_OIDC_ROLE_MAP. Unset: local accounts only.",
		set: func(c *Config, v string) error { c.OIDCIssuer = v; return validHTTPURL(v) }},
	{Name: "BREACH_OIDC_CLIENT_ID", Group: "OpenID Connect sign-in",
		Desc: "Client ID of the engine at the provider; the ID token's audience must contain it.",
		set:  func(c *Config, v string) error { c.OIDCClientID = v; return nil }},
	{Name: "BREACH_OIDC_CLIENT_SECRET", Secret: true, File: true, Group: "OpenID Connect sign-in",
		Desc: "Client secret at the provider; empty for a public client (PKCE is always used).",
		set:  func(c *Config, v string) error { c.OIDCClientSecret = v; return nil }},
	{Name: "BREACH_OIDC_REDIRECT_URL", Group: "OpenID Connect sign-in",
		Desc: "Callback URL registered at the provider: <public URL of breach serve>/signin/oidc/callback.",
		set: func(c *Config, v string) error {
			c.OIDCRedirectURL = v
			if err := validHTTPURL(v); err != nil {
				return err
			}
			if u, _ := url.Parse(v); u.Path != "/signin/oidc/callback" {
				return errors.New("the path must be /signin/oidc/callback")
			}
			return nil
		}},
	{Name: "BREACH_OIDC_ROLE_CLAIM", Default: "roles", Group: "OpenID Connect sign-in",
		Desc: "Claim of the ID token holding the user's roles or groups: a string or an array of strings.",
		set:  func(c *Config, v string) error { c.OIDCRoleClaim = v; return nil }},
	{Name: "BREACH_OIDC_ROLE_MAP", Group: "OpenID Connect sign-in",
		Desc: "Comma-separated value=role pairs mapping claim values to roles (dpo, approver, auditor, admin), e.g. " +
			"\"breach-dpo=dpo,breach-approver=approver,breach-auditor=auditor,breach-admin=admin\". When several match, " +
			"the first pair listed wins; a user with none is refused.",
		set: func(c *Config, v string) (err error) {
			c.OIDCRoleMap, err = ParseRoleMap(v)
			return err
		}},
	{Name: "BREACH_OIDC_SCOPES", Default: "openid,profile,email", Group: "OpenID Connect sign-in",
		Desc: "Comma-separated scopes to request; openid is always added. Add the scope that releases the role " +
			"claim if the provider needs one (e.g. groups).",
		set: func(c *Config, v string) error {
			c.OIDCScopes = []string{"openid"}
			for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
				if !slices.Contains(c.OIDCScopes, f) {
					c.OIDCScopes = append(c.OIDCScopes, f)
				}
			}
			return nil
		}},

	{Name: "BREACH_URL", Default: "http://127.0.0.1:8080", Group: "CLI client",
		Desc: "Base URL of `breach serve` for the incident, register and audit commands.",
		set:  func(c *Config, v string) error { c.URL = strings.TrimRight(v, "/"); return validHTTPURL(v) }},
	{Name: "BREACH_TOKEN", Secret: true, File: true, Group: "CLI client",
		Desc: "API token (brt_...) the CLI authenticates with.",
		set:  func(c *Config, v string) error { c.Token = v; return nil }},
}

// Lookup reads one environment variable; os.LookupEnv in production.
type Lookup func(name string) (string, bool)

// Load reads the configuration from the process environment.
func Load() (Config, error) { return LoadFrom(os.LookupEnv) }

// LoadFrom reads the configuration through lookup, applying defaults and
// validating every value. The error lists every variable at fault, by name,
// and never quotes a secret.
func LoadFrom(lookup Lookup) (Config, error) {
	c := Config{Set: map[string]bool{}}
	var errs []error
	for _, v := range Vars {
		val, given, err := value(v, lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if given {
			c.Set[v.Name] = true
		} else {
			val = v.Default
		}
		if val == "" && v.Default == "" {
			continue
		}
		if err := v.set(&c, val); err != nil {
			if v.Secret {
				err = errors.New(redact(err.Error(), val))
			}
			errs = append(errs, fmt.Errorf("%s: %w", v.Name, err))
		}
	}
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		errs = append(errs, errors.New("BREACH_TEMPORAL_TLS_CERT and BREACH_TEMPORAL_TLS_KEY go together: set both or neither"))
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		errs = append(errs, errors.New("BREACH_SMTP_USERNAME and BREACH_SMTP_PASSWORD go together: set both or neither"))
	}
	if (c.SMTPDKIMKey == "") != (c.SMTPDKIMSelector == "") {
		errs = append(errs, errors.New("BREACH_SMTP_DKIM_KEY and BREACH_SMTP_DKIM_SELECTOR go together: set both or neither"))
	}
	if c.SMTPDKIMDomain != "" && c.SMTPDKIMKey == "" {
		errs = append(errs, errors.New("BREACH_SMTP_DKIM_DOMAIN is set without BREACH_SMTP_DKIM_KEY"))
	}
	if c.OIDCIssuer != "" {
		for _, n := range []string{"BREACH_OIDC_CLIENT_ID", "BREACH_OIDC_REDIRECT_URL", "BREACH_OIDC_ROLE_MAP"} {
			if !c.Set[n] {
				errs = append(errs, fmt.Errorf("BREACH_OIDC_ISSUER is set without %s", n))
			}
		}
	} else {
		for _, n := range []string{"BREACH_OIDC_CLIENT_ID", "BREACH_OIDC_CLIENT_SECRET", "BREACH_OIDC_REDIRECT_URL", "BREACH_OIDC_ROLE_MAP"} {
			if c.Set[n] {
				errs = append(errs, fmt.Errorf("%s is set without BREACH_OIDC_ISSUER", n))
			}
		}
	}
	return c, errors.Join(errs...)
}

// oidcRoles are the roles a claim value may map to.
var oidcRoles = []string{"dpo", "approver", "auditor", "admin"}

// ParseRoleMap reads "value=role,value=role": each value once, each role one
// of dpo, approver, auditor or admin.
func ParseRoleMap(s string) ([]RoleMapping, error) {
	var out []RoleMapping
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		value, role, ok := strings.Cut(f, "=")
		value, role = strings.TrimSpace(value), strings.TrimSpace(role)
		if !ok || value == "" {
			return nil, fmt.Errorf("%q: want value=role", f)
		}
		if !slices.Contains(oidcRoles, role) {
			return nil, fmt.Errorf("%q: the role must be dpo, approver, auditor or admin", f)
		}
		if slices.ContainsFunc(out, func(m RoleMapping) bool { return m.Value == value }) {
			return nil, fmt.Errorf("%q: %s is mapped twice", f, value)
		}
		out = append(out, RoleMapping{Value: value, Role: role})
	}
	if len(out) == 0 {
		return nil, errors.New("no value=role pair")
	}
	return out, nil
}

// value returns the variable's value from the environment or its _FILE.
func value(v Var, lookup Lookup) (val string, given bool, err error) {
	direct, _ := lookup(v.Name)
	direct = strings.TrimSpace(direct)
	if !v.File {
		return direct, direct != "", nil
	}
	file, _ := lookup(v.Name + "_FILE")
	file = strings.TrimSpace(file)
	switch {
	case file == "":
		return direct, direct != "", nil
	case direct != "":
		return "", false, fmt.Errorf("%s and %s_FILE are both set: keep one", v.Name, v.Name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: %w", v.Name, err)
	}
	val = strings.TrimSpace(string(b))
	if val == "" {
		return "", false, fmt.Errorf("%s_FILE: %s is empty", v.Name, file)
	}
	return val, true, nil
}

// redact removes a secret from a message, in case a parser quoted it.
func redact(msg, secret string) string {
	if len(secret) >= 4 {
		msg = strings.ReplaceAll(msg, secret, "[redacted]")
	}
	return msg
}

// Require reports the named variables that are unset, for the commands that
// need them (serve and worker need BREACH_DATABASE_URL and BREACH_PAYLOAD_KEY).
func (c Config) Require(names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.Set[n] && lookupVar(n).Default == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing configuration: set %s (or %s_FILE); see `breach --help`",
		strings.Join(missing, ", "), missing[0])
}

// TemporalTLS reports whether the Temporal connection uses TLS.
func (c Config) TemporalTLS() bool {
	return c.TemporalTLSCert != "" || c.TemporalTLSKey != "" || c.TemporalTLSCA != "" ||
		c.TemporalTLSServerName != "" || c.TemporalAPIKey != ""
}

// Logger builds the process logger from BREACH_LOG_FORMAT and BREACH_LOG_LEVEL.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Unknown returns the BREACH_* names in environ (os.Environ form) that the
// table does not know: most likely typos, worth a warning at start-up.
func Unknown(environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "BREACH_") {
			continue
		}
		base, isFile := strings.CutSuffix(name, "_FILE")
		if v := lookupVar(name); v.Name != "" {
			continue
		}
		if v := lookupVar(base); isFile && v.File {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func lookupVar(name string) Var {
	for _, v := range Vars {
		if v.Name == name {
			return v
		}
	}
	return Var{}
}

// Help documents every variable, for `breach --help`.
func Help() string {
	var b strings.Builder
	b.WriteString("Environment variables (NAME_FILE, where offered, names a file holding the value):\n")
	group := ""
	for _, v := range Vars {
		if v.Group != group {
			group = v.Group
			fmt.Fprintf(&b, "\n  %s\n", group)
		}
		var tags []string
		if v.Default != "" {
			tags = append(tags, fmt.Sprintf("default %q", v.Default))
		}
		if v.Secret {
			tags = append(tags, "secret")
		}
		if v.File {
			tags = append(tags, "or "+v.Name+"_FILE")
		}
		fmt.Fprintf(&b, "    %s", v.Name)
		if len(tags) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(tags, ", "))
		}
		b.WriteString("\n")
		for _, line := range wrap(v.Desc, 72) {
			fmt.Fprintf(&b, "        %s\n", line)
		}
	}
	return b.String()
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// ParseOffsets reads a comma-separated list of positive durations ("48h,24h,6h"),
// distinct, and returns them longest first.
func ParseOffsets(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 48h or 90m", f)
		}
		if d <= 0 {
			return nil, fmt.Errorf("%q: offsets must be positive", f)
		}
		if slices.Contains(out, d) {
			return nil, fmt.Errorf("%q appears twice", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("no offsets")
	}
	slices.SortFunc(out, func(a, b time.Duration) int { return int(b - a) })
	return out, nil
}

// ParseRetention reads a retention period: whole days ("90d") or a Go
// duration ("2160h"), positive.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return 0, fmt.Errorf("%q: want a whole number of days from 1 to 36500, such as 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of days (90d) or a duration (2160h)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: the retention period must be positive", s)
	}
	return d, nil
}

func validHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want host:port")
	}
	if port == "" {
		return errors.New("want host:port: missing port")
	}
	return nil
}

func validDatabaseURL(v string) error {
	if strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		if _, err := url.Parse(v); err != nil {
			return errors.New("not a valid postgres:// URL")
		}
		return nil
	}
	if strings.Contains(v, "=") { // keyword/value form: host=... dbname=...
		return nil
	}
	return errors.New("want a postgres:// URL or a keyword/value connection string")
}

func validPEM(v string) error {
	if !strings.Contains(v, "-----BEGIN ") {
		return errors.New("not PEM data (to give a file's path, use the _FILE variant)")
	}
	return nil
}

func validKeySpec(v string) error {
	if _, err := codec.ParseKeys(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "codec: "))
	}
	return nil
}

func intIn(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func validSMTPHost(v string) error {
	if _, _, err := net.SplitHostPort(v); err == nil {
		return errors.New("host name only: the port goes in BREACH_SMTP_PORT")
	}
	if net.ParseIP(v) != nil {
		return nil
	}
	return validDomain(v)
}

// validDomain accepts a DNS name: dot-separated labels of letters, digits and
// hyphens (IDNs in their ASCII form).
func validDomain(v string) error {
	if len(v) > 253 {
		return errors.New("want a DNS name such as mail.example.org")
	}
	for _, label := range strings.Split(strings.TrimSuffix(v, "."), ".") {
		if validDNSLabel(label) != nil {
			return errors.New("want a DNS name such as mail.example.org")
		}
	}
	return nil
}

func validDNSLabel(v string) error {
	if v == "" || len(v) > 63 || v[0] == '-' || v[len(v)-1] == '-' {
		return errors.New("want letters, digits and hyphens (a DNS label)")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return errors.New("want letters, digits and hyphens (a DNS label)")
		}
	}
	return nil
}

// validMailbox accepts one address, bare or with a display name, whose domain
// is a DNS name.
func validMailbox(v string) error {
	a, err := mail.ParseAddress(v)
	if err != nil {
		return errors.New(`want name@domain or "Name <name@domain>"`)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || validDomain(a.Address[at+1:]) != nil || !strings.Contains(a.Address[at+1:], ".") {
		return errors.New("the address's domain is not a DNS name such as example.org")
	}
	return nil
}

func validOrigin(v string) error {
	u, err := url.Parse(strings.TrimRight(v, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return errors.New("want an origin such as https://temporal-ui.example.org (scheme, host, optional port; no path)")
	}
	return nil
}

func validHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	return nil
}
