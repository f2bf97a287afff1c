package idp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParseConfigExamples(t *testing.T) {
	for _, doc := range []string{
		`{"kind": "webhook", "webhook": {"url": "https://idp.example.org/breach/accounts", "secret": "env:ACME_IDP_WEBHOOK_SECRET", "timeout": "10s"}}`,
		`{"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org", "realm": "job-seekers",
		  "client_id": "breach-engine", "client_secret": "file:/run/secrets/kc-breach", "lookup": "email",
		  "send_email": true, "email_lifespan": "72h", "email_client_id": "portal", "redirect_uri": "https://portal.example.org/"}}`,
		`{"kind": "sql", "sql": {"dsn": "env:ACME_USERS_DSN",
		  "force_reset": "UPDATE users SET must_reset = true WHERE login = @account_id",
		  "revoke_sessions": "DELETE FROM sessions WHERE login = @account_id",
		  "status": "SELECT NOT must_reset FROM users WHERE login = @account_id"}}`,
		`{"kind": "webhook", "webhook": {"url": "http://127.0.0.1:9000/hook", "secret": "env:X"}}`,
	} {
		c, err := idp.ParseConfig([]byte(doc))
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", doc, err)
			continue
		}
		if c.Kind == "" {
			t.Errorf("no kind: %+v", c)
		}
	}
	c, _ := idp.ParseConfig([]byte(`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X", "timeout": "10s"}}`))
	if time.Duration(c.Webhook.Timeout) != 10*time.Second {
		t.Errorf("timeout %v", c.Webhook.Timeout)
	}
}

func fields(err error) []string {
	var es breach.Errors
	if !errors.As(err, &es) {
		var e *breach.Error
		if errors.As(err, &e) {
			return []string{e.Field}
		}
		return nil
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Field)
	}
	return out
}

func TestParseConfigNamesTheFields(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
	}{
		{`{}`, []string{"kind"}},
		{`{"kind": "ldap"}`, []string{"kind"}},
		{`{"kind": "webhook"}`, []string{"webhook"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X"}, "sql": {}}`, []string{"sql"}},
		{`{"kind": "webhook", "webhook": {}}`, []string{"webhook.url", "webhook.secret"}},
		{`{"kind": "webhook", "webhook": {"url": "http://idp.example.org/", "secret": "env:X"}}`, []string{"webhook.url"}},
		{`{"kind": "webhook", "webhook": {"url": "https://user:pw@idp.example.org/", "secret": "env:X"}}`, []string{"webhook.url"}},
		{`{"kind": "webhook", "webhook": {"url": "idp.example.org/hook", "secret": "env:X"}}`, []string{"webhook.url"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "s3cr3t-inline"}}`, []string{"webhook.secret"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:BREACH_DATABASE_URL"}}`, []string{"webhook.secret"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "file:secrets/x"}}`, []string{"webhook.secret"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "vault:kv/x"}}`, []string{"webhook.secret"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X", "timeout": "soon"}}`, []string{"webhook.timeout"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X", "timeout": "1h"}}`, []string{"webhook.timeout"}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X", "retries": 3}}`, []string{"retries"}},
		{`{"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org"}}`, []string{"keycloak.realm", "keycloak.client_id", "keycloak.client_secret"}},
		{`{"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org", "realm": "a/b", "client_id": "c", "client_secret": "env:S", "lookup": "phone"}}`, []string{"keycloak.realm", "keycloak.lookup"}},
		{`{"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org", "realm": "r", "client_id": "c", "client_secret": "env:S", "redirect_uri": "https://p.example/", "concurrency": 100}}`, []string{"keycloak.email_client_id", "keycloak.concurrency"}},
		{`{"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org", "realm": "r", "client_id": "c", "client_secret": "env:S", "send_email": "yes"}}`, []string{"keycloak.send_email"}},
		{`{"kind": "sql", "sql": {}}`, []string{"sql.dsn", "sql.force_reset", "sql.revoke_sessions"}},
		{`{"kind": "sql", "sql": {"dsn": "postgres://u:pw@db/users", "force_reset": "UPDATE users SET must_reset = true", "revoke_sessions": "DELETE FROM sessions WHERE login = @login", "status": "SELECT true WHERE @account_id = @other"}}`,
			[]string{"sql.dsn", "sql.force_reset", "sql.revoke_sessions", "sql.status"}},
		{`{"kind": "sql", "sql": {"dsn": "env:D", "force_reset": "UPDATE u SET f = true WHERE l = @account_id", "revoke_sessions": "DELETE FROM s WHERE l = @account_id", "revoke_sessions_zero_rows": "fail"}}`, []string{"sql.revoke_sessions_zero_rows"}},
		{`not json`, []string{""}},
		{`{"kind": "webhook", "webhook": {"url": "https://x.example", "secret": "env:X"}} {}`, []string{""}},
	}
	for _, c := range cases {
		_, err := idp.ParseConfig([]byte(c.doc))
		if err == nil {
			t.Errorf("ParseConfig(%s): no error", c.doc)
			continue
		}
		if breach.ErrorCode(err) != breach.ErrInvalid {
			t.Errorf("ParseConfig(%s): code %s", c.doc, breach.ErrorCode(err))
		}
		if got := fields(err); !slices.Equal(got, c.want) {
			t.Errorf("ParseConfig(%s): fields %q, want %q (%v)", c.doc, got, c.want, err)
		}
		for _, secret := range []string{"s3cr3t-inline", "u:pw"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes a secret: %v", err)
			}
		}
	}
}

func TestSecretReferences(t *testing.T) {
	t.Setenv("ACME_TEST_SECRET", "  from-env\n")
	if b, err := idp.ResolveSecret("env:ACME_TEST_SECRET"); err != nil || string(b) != "from-env" {
		t.Fatalf("env: %q, %v", b, err)
	}
	if _, err := idp.ResolveSecret("env:ACME_UNSET_SECRET"); err == nil || !strings.Contains(err.Error(), "ACME_UNSET_SECRET") {
		t.Fatalf("unset env: %v", err)
	}
	t.Setenv("BREACH_PAYLOAD_KEY", "engine-key")
	if _, err := idp.ResolveSecret("env:BREACH_PAYLOAD_KEY"); err == nil {
		t.Fatal("an engine secret was handed out")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "kc-secret")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := idp.ResolveSecret(idp.SecretRef("file:" + path)); err != nil || string(b) != "from-file" {
		t.Fatalf("file: %q, %v", b, err)
	}
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := idp.ResolveSecret(idp.SecretRef("file:" + empty)); err == nil {
		t.Fatal("empty secret accepted")
	}

	// With a secrets folder, files elsewhere are refused when opening.
	cfg := idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: "https://x.example", Secret: idp.SecretRef("file:" + path)}}
	if _, err := idp.Open(context.Background(), cfg, idp.Options{SecretDir: t.TempDir()}); !isConfigError(err, "webhook.secret") {
		t.Fatalf("file outside SecretDir: %v", err)
	}
	c, err := idp.Open(context.Background(), cfg, idp.Options{SecretDir: dir})
	if err != nil {
		t.Fatalf("file inside SecretDir: %v", err)
	}
	c.Close()
}

func TestOpenRefusesAnInvalidConfig(t *testing.T) {
	_, err := idp.Open(context.Background(), idp.Config{Kind: idp.KindSQL, SQL: &idp.SQLConfig{DSN: "env:X"}}, idp.Options{})
	if !isConfigError(err, "sql.force_reset") {
		t.Fatalf("Open: %v", err)
	}
}

// isConfigError reports whether err is a *idp.ConfigError about field ("" for
// any field).
func isConfigError(err error, field string) bool {
	var ce *idp.ConfigError
	return errors.As(err, &ce) && (field == "" || ce.Field == field)
}
