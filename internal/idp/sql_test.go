package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/pgtest"
)

// orgDB is the organisation's own user database: a fresh database with a
// users table and a sessions table, as a typical web application has.
type orgDB struct {
	url  string
	conn *pgx.Conn
}

func newOrgDB(t *testing.T) *orgDB {
	t.Helper()
	dbURL := pgtest.NewDatabaseURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, `
		CREATE SCHEMA org;
		CREATE TABLE org.users (
		    id         bigint PRIMARY KEY,
		    login      text NOT NULL UNIQUE,
		    must_reset boolean NOT NULL DEFAULT false,
		    reset_key  text,
		    reset_tx   bigint,
		    locked     boolean NOT NULL DEFAULT false
		);
		CREATE TABLE org.sessions (
		    token   text PRIMARY KEY,
		    user_id bigint NOT NULL REFERENCES org.users (id)
		);
		-- The organisation refuses changes to locked accounts.
		CREATE FUNCTION org.refuse_locked() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
		    IF OLD.locked THEN
		        RAISE EXCEPTION 'account is locked' USING ERRCODE = 'check_violation';
		    END IF;
		    IF NEW.login = 'deadlock-me' THEN
		        RAISE EXCEPTION 'simulated' USING ERRCODE = 'serialization_failure';
		    END IF;
		    RETURN NEW;
		END $$;
		CREATE TRIGGER users_refuse_locked BEFORE UPDATE ON org.users FOR EACH ROW EXECUTE FUNCTION org.refuse_locked();
		INSERT INTO org.users (id, login, locked) VALUES
		    (1, 'jdupont', false), (2, 'mmartin', false), (3, 'lbernard', false),
		    (4, 'frozen', true), (5, 'deadlock-me', false), (6, 'nosession', false);
		INSERT INTO org.sessions VALUES ('s1', 1), ('s2', 1), ('s3', 2), ('s4', 3), ('s5', 6);
		DELETE FROM org.sessions WHERE user_id = 6;`)
	if err != nil {
		t.Fatal(err)
	}
	return &orgDB{url: dbURL, conn: conn}
}

func (db *orgDB) flags(t *testing.T) map[string]bool {
	t.Helper()
	rows, _ := db.conn.Query(context.Background(), `SELECT login, must_reset FROM org.users`)
	out := map[string]bool{}
	var login string
	var f bool
	_, err := pgx.ForEachRow(rows, []any{&login, &f}, func() error { out[login] = f; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (db *orgDB) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const (
	sqlForceReset = `UPDATE org.users SET must_reset = true, reset_key = @key, reset_tx = txid_current() WHERE login = @account_id`
	sqlRevoke     = `DELETE FROM org.sessions WHERE user_id = (SELECT id FROM org.users WHERE login = @account_id)`
	sqlStatus     = `SELECT NOT must_reset FROM org.users WHERE login = @account_id`
)

func sqlConfig(t *testing.T, dsn string, mod func(c *idp.SQLConfig)) idp.Config {
	t.Helper()
	t.Setenv("ACME_USERS_DSN", dsn)
	c := idp.SQLConfig{DSN: "env:ACME_USERS_DSN", ForceReset: sqlForceReset, RevokeSessions: sqlRevoke, Status: sqlStatus}
	if mod != nil {
		mod(&c)
	}
	// Through JSON, as it is stored.
	b, err := json.Marshal(idp.Config{Kind: idp.KindSQL, SQL: &c})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := idp.ParseConfig(b)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func openSQL(t *testing.T, cfg idp.Config) idp.Connector {
	t.Helper()
	c, err := idp.Open(context.Background(), cfg, idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSQLForceResetRevokeAndStatus(t *testing.T) {
	db := newOrgDB(t)
	c := openSQL(t, sqlConfig(t, db.url, nil))
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if f := db.flags(t); f["jdupont"] {
		t.Fatal("Check changed data")
	}

	outs, err := c.ForceReset(ctx, accts("jdupont", "ghost", "mmartin", ""))
	if err != nil {
		t.Fatalf("ForceReset: %v", err)
	}
	if got := results(outs); got != "jdupont=done ghost=failed(not found) mmartin=done =failed(empty account id)" {
		t.Fatalf("outcomes %s", got)
	}
	f := db.flags(t)
	if !f["jdupont"] || !f["mmartin"] || f["lbernard"] {
		t.Fatalf("must_reset flags %v", f)
	}
	// One transaction for the batch; @key bound.
	if n := db.count(t, `SELECT count(DISTINCT reset_tx) FROM org.users WHERE login IN ('jdupont', 'mmartin')`); n != 1 {
		t.Errorf("the batch ran in %d transactions", n)
	}
	if n := db.count(t, `SELECT count(*) FROM org.users WHERE reset_key = 'inc-7/jdupont/reset'`); n != 1 {
		t.Errorf("@key not bound")
	}

	outs, err = c.RevokeSessions(ctx, accts("jdupont", "mmartin", "nosession", "ghost"))
	if err != nil {
		t.Fatalf("RevokeSessions: %v", err)
	}
	// Zero rows is "no session" by default, for known and unknown alike.
	if got := results(outs); got != "jdupont=done mmartin=done nosession=done ghost=done" {
		t.Fatalf("outcomes %s", got)
	}
	if n := db.count(t, `SELECT count(*) FROM org.sessions WHERE user_id IN (1, 2)`); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if n := db.count(t, `SELECT count(*) FROM org.sessions`); n != 1 {
		t.Errorf("%d sessions in all, want lbernard's only", n)
	}

	if _, err := db.conn.Exec(ctx, `UPDATE org.users SET must_reset = false WHERE login = 'mmartin'`); err != nil {
		t.Fatal(err)
	}
	sts, err := c.Status(ctx, accts("jdupont", "mmartin", "ghost"))
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != idp.Pending || sts[1].State != idp.Complete || sts[2].State != idp.Unknown || sts[2].Reason != "not found" {
		t.Fatalf("statuses %+v", sts)
	}
}

func TestSQLRevokeZeroRowsNotFound(t *testing.T) {
	db := newOrgDB(t)
	c := openSQL(t, sqlConfig(t, db.url, func(c *idp.SQLConfig) {
		c.RevokeSessions = `UPDATE org.users SET reset_tx = 0 WHERE login = @account_id`
		c.RevokeZeroRows = "not_found"
	}))
	outs, err := c.RevokeSessions(context.Background(), accts("nosession", "ghost"))
	if err != nil || results(outs) != "nosession=done ghost=failed(not found)" {
		t.Fatalf("%s, %v", results(outs), err)
	}
}

// One account refused by the organisation's trigger fails alone; the others
// are done, still in one transaction.
func TestSQLOneAccountRefused(t *testing.T) {
	db := newOrgDB(t)
	c := openSQL(t, sqlConfig(t, db.url, nil))
	outs, err := c.ForceReset(context.Background(), accts("jdupont", "frozen", "mmartin"))
	if err != nil {
		t.Fatalf("ForceReset: %v", err)
	}
	if outs[0].Result != idp.Done || outs[1].Result != idp.Failed || outs[2].Result != idp.Done {
		t.Fatalf("outcomes %s", results(outs))
	}
	if outs[1].Reason != "refused by the database (SQLSTATE 23514)" {
		t.Errorf("reason %q", outs[1].Reason)
	}
	if f := db.flags(t); !f["jdupont"] || !f["mmartin"] || f["frozen"] {
		t.Fatalf("flags %v", f)
	}
	if n := db.count(t, `SELECT count(DISTINCT reset_tx) FROM org.users WHERE login IN ('jdupont', 'mmartin')`); n != 1 {
		t.Errorf("the batch ran in %d transactions", n)
	}
}

// A failure that is not about one account stops the batch and rolls back
// what it had done: nothing half-applied, every account Retry.
func TestSQLBatchIsOneTransaction(t *testing.T) {
	db := newOrgDB(t)
	c := openSQL(t, sqlConfig(t, db.url, nil))
	outs, err := c.ForceReset(context.Background(), accts("jdupont", "mmartin", "deadlock-me", "lbernard"))
	var te *idp.TemporaryError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TemporaryError", err)
	}
	if strings.Contains(err.Error(), "deadlock-me") {
		t.Errorf("error quotes an account: %v", err)
	}
	for _, o := range outs {
		if o.Result != idp.Retry {
			t.Errorf("%s: %s", o.AccountID, o.Result)
		}
	}
	if f := db.flags(t); f["jdupont"] || f["mmartin"] {
		t.Fatalf("part of the batch was applied: %v", f)
	}
}

// Accounts known by a numeric ID: the text parameter is converted; an ID that
// is not a number fails alone.
func TestSQLNumericAccountIDs(t *testing.T) {
	db := newOrgDB(t)
	c := openSQL(t, sqlConfig(t, db.url, func(c *idp.SQLConfig) {
		c.ForceReset = `UPDATE org.users SET must_reset = true WHERE id = @account_id`
		c.Status = `SELECT NOT must_reset FROM org.users WHERE id = @account_id`
	}))
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	outs, err := c.ForceReset(ctx, accts("1", "jdupont", "2", "99"))
	if err != nil {
		t.Fatal(err)
	}
	if got := results(outs); got != "1=done jdupont=failed(refused by the database (SQLSTATE 22P02)) 2=done 99=failed(not found)" {
		t.Fatalf("outcomes %s", got)
	}
	sts, err := c.Status(ctx, accts("1", "jdupont", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != idp.Pending || sts[1].State != idp.Unknown || sts[2].State != idp.Complete {
		t.Fatalf("statuses %+v", sts)
	}
}

func TestSQLMisconfiguration(t *testing.T) {
	db := newOrgDB(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		mod   func(c *idp.SQLConfig)
		field string
	}{
		{"syntax error", func(c *idp.SQLConfig) {
			c.ForceReset = `UPDATE org.users SET must_reset = true WHER login = @account_id`
		}, "sql.force_reset"},
		{"unknown column", func(c *idp.SQLConfig) {
			c.RevokeSessions = `DELETE FROM org.sessions WHERE login = @account_id`
		}, "sql.revoke_sessions"},
		{"unknown table", func(c *idp.SQLConfig) {
			c.ForceReset = `UPDATE users SET must_reset = true WHERE login = @account_id`
		}, "sql.force_reset"},
		{"two statements", func(c *idp.SQLConfig) {
			c.ForceReset = `UPDATE org.users SET must_reset = true WHERE login = @account_id; DELETE FROM org.sessions`
		}, "sql.force_reset"},
		{"status not boolean", func(c *idp.SQLConfig) {
			c.Status = `SELECT login FROM org.users WHERE login = @account_id`
		}, "sql.status"},
		{"operator that does not exist", func(c *idp.SQLConfig) {
			c.ForceReset = `UPDATE org.users SET must_reset = true WHERE id = @account_id::bigint AND login = 42`
		}, "sql.force_reset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openSQL(t, sqlConfig(t, db.url, tc.mod))
			err := c.Check(ctx)
			if !isConfigError(err, tc.field) {
				t.Fatalf("Check = %v, want a ConfigError about %s", err, tc.field)
			}
			t.Logf("Check: %v", err)
		})
	}
	// Without Check, the first batch finds it, and nothing is applied.
	c := openSQL(t, sqlConfig(t, db.url, func(c *idp.SQLConfig) {
		c.ForceReset = `UPDATE org.users SET must_reset = true WHERE logn = @account_id`
	}))
	outs, err := c.ForceReset(ctx, accts("jdupont"))
	if !isConfigError(err, "sql.force_reset") || outs[0].Result != idp.Retry {
		t.Fatalf("ForceReset: %s, %v", results(outs), err)
	}
	// Status without a statement.
	c = openSQL(t, sqlConfig(t, db.url, func(c *idp.SQLConfig) { c.Status = "" }))
	if _, err := c.Status(ctx, accts("jdupont")); !isConfigError(err, "sql.status") {
		t.Fatalf("Status: %v", err)
	}
}

func TestSQLConnectionMisconfiguration(t *testing.T) {
	db := newOrgDB(t)
	ctx := context.Background()
	u, err := url.Parse(db.url)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	otherDB := *u
	otherDB.Path = "/no_such_database"
	otherUser := *u
	otherUser.User = url.User("no_such_role")

	for name, dsn := range map[string]string{
		"unknown database": otherDB.String(),
		"unknown role":     otherUser.String(),
		"not a DSN":        "postgres://[::1",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := sqlConfig(t, dsn, nil)
			c, err := idp.Open(ctx, cfg, idp.Options{})
			if err == nil {
				defer c.Close()
				err = c.Check(ctx)
			}
			if !isConfigError(err, "sql.dsn") {
				t.Fatalf("err = %v, want a ConfigError about sql.dsn", err)
			}
			if strings.Contains(err.Error(), "[::1") {
				t.Errorf("error quotes the DSN: %v", err)
			}
		})
	}

	// A role that may read but not update: Check finds it (EXPLAIN checks
	// permissions), before any batch.
	role := fmt.Sprintf("idp_reader_%d", time.Now().UnixNano()) // roles are cluster-wide
	if _, err := db.conn.Exec(ctx, fmt.Sprintf(`
		CREATE ROLE %[1]s LOGIN;
		GRANT USAGE ON SCHEMA org TO %[1]s;
		GRANT SELECT ON org.users, org.sessions TO %[1]s;`, role)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.conn.Exec(context.Background(), fmt.Sprintf(`DROP OWNED BY %[1]s; DROP ROLE %[1]s`, role))
	})
	reader := *u
	reader.User = url.User(role)
	c := openSQL(t, sqlConfig(t, reader.String(), nil))
	if err := c.Check(ctx); !isConfigError(err, "sql.force_reset") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("Check as a reader: %v", err)
	}

	// Nothing listening: temporary (the database may be restarting).
	down := *u
	down.Host = "127.0.0.1:1"
	c = openSQL(t, sqlConfig(t, down.String(), nil))
	if _, err := c.ForceReset(ctx, accts("jdupont")); !isTemporary(err) {
		t.Fatalf("ForceReset with the database down: %v", err)
	}
}

func isTemporary(err error) bool {
	_, ok := idp.RetryAfter(err)
	return ok
}
