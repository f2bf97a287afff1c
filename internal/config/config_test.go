package config

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := kv[name]
		return v, ok
	}
}

func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func TestDefaults(t *testing.T) {
	c, err := LoadFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "127.0.0.1:7233" || c.TemporalNamespace != "default" || c.TaskQueue != "breach" ||
		c.HTTPAddr != "127.0.0.1:8080" || c.LogFormat != "text" || c.DevDir != ".breach" ||
		c.URL != "http://127.0.0.1:8080" || c.DatabaseURL != "" || c.PayloadKey != "" || c.TemporalTLS() {
		t.Errorf("defaults: %+v", c)
	}
	want := []time.Duration{48 * time.Hour, 24 * time.Hour, 6 * time.Hour}
	if !equalDurations(c.ReminderOffsets, want) {
		t.Errorf("offsets %v", c.ReminderOffsets)
	}
	if c.RetentionAfterClose != 90*24*time.Hour {
		t.Errorf("retention %v", c.RetentionAfterClose)
	}
	if len(c.Set) != 0 {
		t.Errorf("Set = %v, want empty", c.Set)
	}
	if err := c.Require("BREACH_DATABASE_URL", "BREACH_PAYLOAD_KEY", "BREACH_TASK_QUEUE"); err == nil ||
		!strings.Contains(err.Error(), "BREACH_DATABASE_URL, BREACH_PAYLOAD_KEY") ||
		strings.Contains(err.Error(), "BREACH_TASK_QUEUE") {
		t.Errorf("Require: %v", err)
	}
}

func TestValues(t *testing.T) {
	c, err := LoadFrom(env(map[string]string{
		"BREACH_DATABASE_URL":       "postgres://breach:pw@db:5432/breach?sslmode=disable",
		"BREACH_TEMPORAL_ADDRESS":   "temporal:7233",
		"BREACH_TEMPORAL_NAMESPACE": "breach-prod",
		"BREACH_TEMPORAL_API_KEY":   "abc",
		"BREACH_TASK_QUEUE":         "breach-eu",
		"BREACH_HTTP_ADDR":          "0.0.0.0:8080",
		"BREACH_CODEC_CORS_ORIGIN":  "http://localhost:8233/",
		"BREACH_PAYLOAD_KEY":        "k2:" + testKey(2) + ",k1:" + testKey(1),
		"BREACH_DATA_KEY":           testKey(3),
		"BREACH_LOG_FORMAT":         "json",
		"BREACH_LOG_LEVEL":          "debug",
		"BREACH_REMINDER_OFFSETS":   "6h, 72h ,30m",
		"BREACH_URL":                "https://breach.example.org/",
		"BREACH_TOKEN":              " brt_xyz \n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalAddress != "temporal:7233" || c.TemporalNamespace != "breach-prod" || c.TaskQueue != "breach-eu" ||
		c.HTTPAddr != "0.0.0.0:8080" || c.CodecCORSOrigin != "http://localhost:8233" || c.LogFormat != "json" ||
		c.LogLevel.String() != "DEBUG" || c.URL != "https://breach.example.org" || c.Token != "brt_xyz" ||
		!c.TemporalTLS() || !c.Set["BREACH_TOKEN"] {
		t.Errorf("values: %+v", c)
	}
	want := []time.Duration{72 * time.Hour, 6 * time.Hour, 30 * time.Minute}
	if !equalDurations(c.ReminderOffsets, want) {
		t.Errorf("offsets %v, want %v", c.ReminderOffsets, want)
	}
	if err := c.Require("BREACH_DATABASE_URL", "BREACH_PAYLOAD_KEY"); err != nil {
		t.Error(err)
	}
	var buf strings.Builder
	c.Logger(&buf).Debug("hello", "k", 1)
	if !strings.HasPrefix(buf.String(), `{"time"`) || !strings.Contains(buf.String(), `"msg":"hello"`) {
		t.Errorf("json debug logger wrote %q", buf.String())
	}
}

func TestFileVariants(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "payload.key")
	if err := os.WriteFile(keyFile, []byte("\n"+testKey(7)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	certFile := filepath.Join(dir, "client.pem")
	os.WriteFile(certFile, []byte(pem), 0o600)
	keyPEM := filepath.Join(dir, "client.key")
	os.WriteFile(keyPEM, []byte("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"), 0o600)
	c, err := LoadFrom(env(map[string]string{
		"BREACH_PAYLOAD_KEY_FILE":       keyFile,
		"BREACH_TEMPORAL_TLS_CERT_FILE": certFile,
		"BREACH_TEMPORAL_TLS_KEY_FILE":  keyPEM,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PayloadKey != testKey(7) || !c.Set["BREACH_PAYLOAD_KEY"] {
		t.Errorf("payload key from file: %q", c.PayloadKey)
	}
	if c.TemporalTLSCert != strings.TrimSpace(pem) || !strings.Contains(c.TemporalTLSKey, "PRIVATE KEY") {
		t.Errorf("TLS from files: %q %q", c.TemporalTLSCert, c.TemporalTLSKey)
	}

	_, err = LoadFrom(env(map[string]string{"BREACH_PAYLOAD_KEY": testKey(7), "BREACH_PAYLOAD_KEY_FILE": keyFile}))
	if err == nil || !strings.Contains(err.Error(), "BREACH_PAYLOAD_KEY and BREACH_PAYLOAD_KEY_FILE are both set") {
		t.Errorf("both set: %v", err)
	}
	_, err = LoadFrom(env(map[string]string{"BREACH_TOKEN_FILE": filepath.Join(dir, "missing")}))
	if err == nil || !strings.Contains(err.Error(), "BREACH_TOKEN_FILE") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	_, err = LoadFrom(env(map[string]string{"BREACH_DATABASE_URL_FILE": empty}))
	if err == nil || !strings.Contains(err.Error(), "BREACH_DATABASE_URL_FILE") {
		t.Errorf("empty file: %v", err)
	}
	// Non-secret plain variables have no _FILE variant: it is ignored (and reported by Unknown).
	c, err = LoadFrom(env(map[string]string{"BREACH_TASK_QUEUE_FILE": keyFile}))
	if err != nil || c.TaskQueue != "breach" {
		t.Errorf("BREACH_TASK_QUEUE_FILE: %v %q", err, c.TaskQueue)
	}
}

func TestErrorsNameTheVariableAndHideSecrets(t *testing.T) {
	secrets := map[string]string{
		"BREACH_DATABASE_URL": "mysql-hunter2-secretpassword",
		"BREACH_PAYLOAD_KEY":  "c2VjcmV0LXBheWxvYWQta2V5LXZhbHVl", // base64 of the wrong length
		"BREACH_DATA_KEY":     "k1:" + testKey(1) + ",k1:" + testKey(2),
	}
	plain := map[string]string{
		"BREACH_TEMPORAL_ADDRESS":  "temporal",
		"BREACH_HTTP_ADDR":         "8080",
		"BREACH_LOG_FORMAT":        "yaml",
		"BREACH_LOG_LEVEL":         "loud",
		"BREACH_REMINDER_OFFSETS":  "48h,soon",
		"BREACH_CODEC_CORS_ORIGIN": "http://ui.example/path",
		"BREACH_URL":               "ftp://x",
		"BREACH_TEMPORAL_TLS_CA":   "/etc/ca.pem",
	}
	all := map[string]string{}
	for k, v := range secrets {
		all[k] = v
	}
	for k, v := range plain {
		all[k] = v
	}
	all["BREACH_TEMPORAL_TLS_CERT"] = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----"
	_, err := LoadFrom(env(all))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for name := range all {
		if name == "BREACH_TEMPORAL_TLS_CERT" {
			continue // valid alone; reported below as missing its key
		}
		if !strings.Contains(msg, name+":") {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	if !strings.Contains(msg, "BREACH_TEMPORAL_TLS_CERT and BREACH_TEMPORAL_TLS_KEY go together") {
		t.Errorf("cert without key not reported:\n%s", msg)
	}
	for name, v := range secrets {
		if strings.Contains(msg, v) || strings.Contains(msg, testKey(1)) || strings.Contains(msg, "hunter2") {
			t.Errorf("error reveals the value of %s:\n%s", name, msg)
		}
	}
}

func TestParseOffsets(t *testing.T) {
	for _, bad := range []string{"", ",", "0s", "-1h", "1h,1h", "1d"} {
		if _, err := ParseOffsets(bad); err == nil {
			t.Errorf("ParseOffsets(%q) accepted", bad)
		}
	}
	got, err := ParseOffsets("1h,90m,2h")
	if err != nil || !equalDurations(got, []time.Duration{2 * time.Hour, 90 * time.Minute, time.Hour}) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestUnknown(t *testing.T) {
	got := Unknown([]string{
		"PATH=/bin", "BREACH_DATABSE_URL=x", "BREACH_PAYLOAD_KEY_FILE=/k", "BREACH_TASK_QUEUE=q",
		"BREACH_TASK_QUEUE_FILE=/q", "BREACH_TEMPORAL_TLS_CA_FILE=/ca",
	})
	if strings.Join(got, " ") != "BREACH_DATABSE_URL BREACH_TASK_QUEUE_FILE" {
		t.Errorf("Unknown = %v", got)
	}
}

func TestHelpDocumentsEveryVariable(t *testing.T) {
	h := Help()
	for _, v := range Vars {
		if !strings.Contains(h, v.Name) {
			t.Errorf("help lacks %s", v.Name)
		}
		if v.Desc == "" || v.set == nil {
			t.Errorf("%s: no description or setter", v.Name)
		}
		if v.Secret && !v.File {
			t.Errorf("%s: secret without _FILE variant", v.Name)
		}
		if v.Secret && v.Default != "" {
			t.Errorf("%s: secret with a default", v.Name)
		}
	}
	if !strings.Contains(h, "BREACH_PAYLOAD_KEY (secret, or BREACH_PAYLOAD_KEY_FILE)") ||
		!strings.Contains(h, `BREACH_TEMPORAL_ADDRESS (default "127.0.0.1:7233")`) {
		t.Errorf("help format:\n%s", h)
	}
	for _, line := range strings.Split(h, "\n") {
		if len(line) > 100 {
			t.Errorf("help line too long: %q", line)
		}
	}
}

var breachVar = regexp.MustCompile(`BREACH_[A-Z0-9_]+`)

// TestDeployFilesMatchTheTable keeps deploy/ consistent with the table: the
// example environment file lists every variable, and no deploy file names a
// variable the engine does not read.
func TestDeployFilesMatchTheTable(t *testing.T) {
	root := filepath.Join("..", "..", "deploy")
	example, err := os.ReadFile(filepath.Join(root, "breach.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		re := regexp.MustCompile(`(?m)^#?\s*` + v.Name + `=`)
		if !re.Match(example) {
			t.Errorf("deploy/breach.env.example does not list %s", v.Name)
		}
	}
	known := func(name string) bool {
		if lookupVar(name).Name != "" {
			return true
		}
		base, ok := strings.CutSuffix(name, "_FILE")
		return ok && lookupVar(base).File
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, name := range breachVar.FindAllString(string(b), -1) {
			if !known(name) {
				t.Errorf("%s names %s, which internal/config does not read", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSMTP(t *testing.T) {
	c, err := LoadFrom(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPPort != 587 || c.SMTPTLS != "mandatory" || c.SMTPRate != 50 || c.SMTPConnections != 4 ||
		c.SMTPTimeout != 30*time.Second || c.SMTPHost != "" || c.SMTPFrom != "" || c.SMTPDKIMKey != "" {
		t.Errorf("SMTP defaults: %+v", c)
	}
	pem := "-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----"
	c, err = LoadFrom(env(map[string]string{
		"BREACH_SMTP_HOST":          "smtp.example.org",
		"BREACH_SMTP_PORT":          "465",
		"BREACH_SMTP_TLS":           "implicit",
		"BREACH_SMTP_USERNAME":      "breach",
		"BREACH_SMTP_PASSWORD":      "pw",
		"BREACH_SMTP_FROM":          "Agence pour l'emploi <ne-pas-repondre@example.org>",
		"BREACH_SMTP_RATE":          "0",
		"BREACH_SMTP_CONNECTIONS":   "16",
		"BREACH_SMTP_TIMEOUT":       "1m",
		"BREACH_SMTP_DKIM_KEY":      pem,
		"BREACH_SMTP_DKIM_SELECTOR": "breach2026",
		"BREACH_SMTP_DKIM_DOMAIN":   "Example.org",
		"BREACH_SMTP_HELO":          "worker1.example.org",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPHost != "smtp.example.org" || c.SMTPPort != 465 || c.SMTPTLS != "implicit" || c.SMTPUsername != "breach" ||
		c.SMTPPassword != "pw" || c.SMTPRate != 0 || c.SMTPConnections != 16 || c.SMTPTimeout != time.Minute ||
		c.SMTPDKIMKey != pem || c.SMTPDKIMSelector != "breach2026" || c.SMTPDKIMDomain != "example.org" ||
		c.SMTPHELO != "worker1.example.org" || !c.Set["BREACH_SMTP_PORT"] {
		t.Errorf("SMTP values: %+v", c)
	}

	bad := map[string]string{
		"BREACH_SMTP_HOST":          "smtp.example.org:587",
		"BREACH_SMTP_PORT":          "70000",
		"BREACH_SMTP_TLS":           "starttls",
		"BREACH_SMTP_FROM":          "not an address",
		"BREACH_SMTP_RATE":          "-1",
		"BREACH_SMTP_CONNECTIONS":   "0",
		"BREACH_SMTP_TIMEOUT":       "0s",
		"BREACH_SMTP_DKIM_KEY":      "hunter2-not-pem",
		"BREACH_SMTP_DKIM_SELECTOR": "bad selector",
		"BREACH_SMTP_HELO":          "bad host\r\nMAIL FROM:<x>",
	}
	_, err = LoadFrom(env(bad))
	if err == nil {
		t.Fatal("bad SMTP values accepted")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals the DKIM key:\n%v", err)
	}

	for _, pair := range []map[string]string{
		{"BREACH_SMTP_USERNAME": "breach"},
		{"BREACH_SMTP_PASSWORD": "pw"},
		{"BREACH_SMTP_DKIM_KEY": pem},
		{"BREACH_SMTP_DKIM_SELECTOR": "s1"},
		{"BREACH_SMTP_DKIM_DOMAIN": "example.org"},
	} {
		if _, err := LoadFrom(env(pair)); err == nil {
			t.Errorf("%v alone accepted", pair)
		}
	}
}

func TestOIDC(t *testing.T) {
	c, err := LoadFrom(env(map[string]string{}))
	if err != nil || c.OIDC() {
		t.Fatalf("OIDC on by default: %v %v", c.OIDC(), err)
	}
	c, err = LoadFrom(env(map[string]string{
		"BREACH_OIDC_ISSUER":        "https://login.example.org/realms/breach/",
		"BREACH_OIDC_CLIENT_ID":     "breach",
		"BREACH_OIDC_CLIENT_SECRET": "s3cret-value",
		"BREACH_OIDC_REDIRECT_URL":  "https://breach.example.org/signin/oidc/callback",
		"BREACH_OIDC_ROLE_MAP":      "breach-dpo=dpo, breach-approver=approver,breach-admin=admin",
		"BREACH_OIDC_SCOPES":        "profile,groups",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OIDC() || c.OIDCIssuer != "https://login.example.org/realms/breach/" || c.OIDCRoleClaim != "roles" ||
		len(c.OIDCRoleMap) != 3 || c.OIDCRoleMap[1] != (RoleMapping{"breach-approver", "approver"}) ||
		strings.Join(c.OIDCScopes, " ") != "openid profile groups" || c.OIDCClientSecret != "s3cret-value" {
		t.Errorf("OIDC configuration: %+v", c)
	}
	for name, vars := range map[string]map[string]string{
		"issuer alone":    {"BREACH_OIDC_ISSUER": "https://login.example.org"},
		"client alone":    {"BREACH_OIDC_CLIENT_ID": "breach"},
		"unknown role":    {"BREACH_OIDC_ROLE_MAP": "x=root"},
		"no pair":         {"BREACH_OIDC_ROLE_MAP": "breach-dpo"},
		"mapped twice":    {"BREACH_OIDC_ROLE_MAP": "a=dpo,a=admin"},
		"wrong callback":  {"BREACH_OIDC_REDIRECT_URL": "https://breach.example.org/callback"},
		"issuer not http": {"BREACH_OIDC_ISSUER": "login.example.org"},
	} {
		if _, err := LoadFrom(env(vars)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: secret in error", name)
		}
	}
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, " 1d ": 24 * time.Hour, "2160h": 2160 * time.Hour, "30m": 30 * time.Minute} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-3d", "1.5d", "d", "0s", "-1h", "90 days", "99999d"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) accepted", bad)
		}
	}
	c, err := LoadFrom(env(map[string]string{"BREACH_RETENTION_AFTER_CLOSE": "30d"}))
	if err != nil || c.RetentionAfterClose != 30*24*time.Hour {
		t.Fatalf("BREACH_RETENTION_AFTER_CLOSE=30d: %v %v", c.RetentionAfterClose, err)
	}
	if c, err := LoadFrom(env(map[string]string{"BREACH_MONITORING_PERIOD": "30d"})); err != nil || c.MonitoringPeriod != 30*24*time.Hour {
		t.Fatalf("BREACH_MONITORING_PERIOD=30d: %v %v", c.MonitoringPeriod, err)
	}
	if _, err := LoadFrom(env(map[string]string{"BREACH_MONITORING_PERIOD": "forever"})); err == nil ||
		!strings.Contains(err.Error(), "BREACH_MONITORING_PERIOD") {
		t.Fatalf("BREACH_MONITORING_PERIOD=forever: want an error naming it, got %v", err)
	}
	if _, err := LoadFrom(env(map[string]string{"BREACH_RETENTION_AFTER_CLOSE": "soon"})); err == nil ||
		!strings.Contains(err.Error(), "BREACH_RETENTION_AFTER_CLOSE") {
		t.Fatalf("bad retention: %v", err)
	}
}
