package idp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The sql connector runs the configured statements against the
// organisation's own PostgreSQL user database, with @account_id (text) and
// @key bound per account (pgx.NamedArgs):
//
//   - ForceReset and RevokeSessions run their statement once per account, the
//     whole batch in one transaction: it commits when every statement ran,
//     and nothing is applied when the batch stops (an account is then Retry).
//     For ForceReset, affecting no row means Failed "not found"; for
//     RevokeSessions it means Done (no session) unless
//     revoke_sessions_zero_rows is "not_found". An error that concerns one
//     account's data (SQLSTATE classes 22 and 23, or a trigger's RAISE, P0)
//     makes that account Failed and the others go on, in the same transaction
//     (each statement then runs under a savepoint).
//   - Status runs the status SELECT per account: true is Complete, false or
//     NULL Pending, no row Unknown "not found".
//
// Statements should be idempotent (set a flag, delete sessions), as a batch
// whose commit was lost is run again. @account_id is sent as text, which
// PostgreSQL converts when the column is of another type: with
// "id = @account_id" on a bigint id, an account ID that is not a number is
// Failed for that account alone.
//
// Errors that say the configuration is wrong (classes 42: syntax, unknown
// table or column, permission; 28: authentication; 3D/3F: unknown database
// or schema; 0A, 25: e.g. a read-only replica) are a *ConfigError naming the
// statement's field; connection trouble, timeouts, deadlocks and
// serialization failures a *TemporaryError. Check prepares and EXPLAINs
// every statement in a transaction that is rolled back, so that a mistake
// shows when the configuration is set rather than mid-track. Messages keep
// the database's text only for those configuration classes: the others may
// quote an account ID.
type sqlConnector struct {
	cfg  SQLConfig
	pool *pgxpool.Pool
	opts Options
}

func openSQL(ctx context.Context, cfg SQLConfig, opts Options) (*sqlConnector, error) {
	dsn, err := opts.secret(ctx, KindSQL, "sql.dsn", cfg.DSN)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(string(dsn))
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, &ConfigError{Kind: KindSQL, Field: "sql.dsn", Message: "not a valid PostgreSQL connection string"}
	}
	pc.MaxConns = 2
	pc.MinConns = 0
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "breach-engine"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc) // connects lazily
	if err != nil {
		return nil, &ConfigError{Kind: KindSQL, Field: "sql.dsn", Message: "cannot use the connection string", Err: safeErr(err)}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = Duration(30 * time.Second)
	}
	return &sqlConnector{cfg: cfg, pool: pool, opts: opts}, nil
}

func (c *sqlConnector) Close() error {
	c.pool.Close()
	return nil
}

func args(a Account) pgx.NamedArgs { return pgx.NamedArgs{"account_id": a.ID, "key": a.Key} }

func (c *sqlConnector) ForceReset(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.exec(ctx, "sql.force_reset", c.cfg.ForceReset, true, accounts)
}

func (c *sqlConnector) RevokeSessions(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.exec(ctx, "sql.revoke_sessions", c.cfg.RevokeSessions, c.cfg.RevokeZeroRows == "not_found", accounts)
}

// exec runs stmt for every account in one transaction.
func (c *sqlConnector) exec(ctx context.Context, field, stmt string, zeroIsNotFound bool, accounts []Account) ([]Outcome, error) {
	out := outcomes(accounts)
	send, idx := sendable(accounts)
	if len(send) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()

	// First all statements in one round trip; if one account's data is
	// refused, again with a savepoint around each statement.
	rows, refused, err := c.execBatch(ctx, stmt, send)
	if err != nil && accountSpecific(err) {
		rows, refused, err = c.execEach(ctx, stmt, send)
	}
	if err != nil {
		return out, c.classify(ctx, field, "run "+strings.TrimPrefix(field, "sql."), err)
	}
	for i, n := range rows {
		o := &out[idx[i]]
		switch {
		case refused[i] != "":
			o.Result, o.Reason = Failed, refused[i]
		case n == 0 && zeroIsNotFound:
			o.Result, o.Reason = Failed, ReasonNotFound
		default:
			o.Result, o.Reason = Done, ""
		}
	}
	return out, nil
}

// execBatch sends every statement in one batch inside one transaction; any
// error rolls everything back.
func (c *sqlConnector) execBatch(ctx context.Context, stmt string, accounts []Account) ([]int64, []string, error) {
	rows := make([]int64, len(accounts))
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, a := range accounts {
			b.Queue(stmt, args(a))
		}
		br := tx.SendBatch(ctx, b)
		for i := range accounts {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			rows[i] = tag.RowsAffected()
		}
		return br.Close()
	})
	if err != nil {
		return nil, nil, err
	}
	return rows, make([]string, len(accounts)), nil
}

// execEach runs the statements one by one under savepoints, so that an
// account whose data is refused is left out and the others go on, still in
// one transaction.
func (c *sqlConnector) execEach(ctx context.Context, stmt string, accounts []Account) ([]int64, []string, error) {
	rows := make([]int64, len(accounts))
	refused := make([]string, len(accounts))
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		for i, a := range accounts {
			sp, err := tx.Begin(ctx) // SAVEPOINT
			if err != nil {
				return err
			}
			tag, err := sp.Exec(ctx, stmt, args(a))
			if err != nil {
				if rerr := sp.Rollback(ctx); rerr != nil {
					return rerr
				}
				if !accountSpecific(err) {
					return err
				}
				refused[i] = refusedReason(err)
				continue
			}
			if err := sp.Commit(ctx); err != nil { // RELEASE SAVEPOINT
				return err
			}
			rows[i] = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rows, refused, nil
}

func (c *sqlConnector) Status(ctx context.Context, accounts []Account) ([]Status, error) {
	out := statuses(accounts)
	if c.cfg.Status == "" {
		return out, &ConfigError{Kind: KindSQL, Field: "sql.status", Message: "no status statement configured"}
	}
	send, idx := sendable(accounts)
	if len(send) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()

	states := make([]Status, len(send))
	read := func(i int, row pgx.Row) error {
		var complete *bool
		err := row.Scan(&complete)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			states[i] = Status{State: Unknown, Reason: ReasonNotFound}
		case err != nil:
			return err
		case complete != nil && *complete:
			states[i] = Status{State: Complete}
		default:
			states[i] = Status{State: Pending}
		}
		return nil
	}
	err := pgx.BeginTxFunc(ctx, c.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, a := range send {
			b.Queue(c.cfg.Status, args(a))
		}
		br := tx.SendBatch(ctx, b)
		for i := range send {
			if err := read(i, br.QueryRow()); err != nil {
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil && accountSpecific(err) {
		// One account's data is refused: ask one by one.
		err = nil
		for i, a := range send {
			if qerr := read(i, c.pool.QueryRow(ctx, c.cfg.Status, args(a))); qerr != nil {
				if !accountSpecific(qerr) {
					err = qerr
					break
				}
				states[i] = Status{State: Unknown, Reason: refusedReason(qerr)}
			}
		}
	}
	if err != nil {
		return out, c.classify(ctx, "sql.status", "run status", err)
	}
	for i, s := range states {
		o := &out[idx[i]]
		o.State, o.Reason = s.State, s.Reason
	}
	return out, nil
}

// Check connects, then prepares and EXPLAINs each statement in a transaction
// that is rolled back: syntax, tables, columns, parameter types and
// permissions are checked, nothing is changed. The status statement must
// return one boolean column.
func (c *sqlConnector) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.cfg.Timeout))
	defer cancel()
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return c.classify(ctx, "sql.dsn", "connect", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	probe := Account{ID: "breach-engine-check", Key: "breach-engine-check"}
	for _, s := range []struct{ field, sql string }{
		{"sql.force_reset", c.cfg.ForceReset},
		{"sql.revoke_sessions", c.cfg.RevokeSessions},
		{"sql.status", c.cfg.Status},
	} {
		if s.sql == "" {
			continue
		}
		rewritten, _, err := args(probe).RewriteQuery(ctx, tx.Conn(), s.sql, nil)
		if err != nil {
			return &ConfigError{Kind: KindSQL, Field: s.field, Message: "cannot read its parameters", Err: err}
		}
		desc, err := tx.Prepare(ctx, "", rewritten)
		if err != nil {
			return c.classify(ctx, s.field, "prepare", err)
		}
		if s.field == "sql.status" && (len(desc.Fields) != 1 || desc.Fields[0].DataTypeOID != pgtype.BoolOID) {
			return &ConfigError{Kind: KindSQL, Field: s.field, Message: "must return exactly one boolean column (true: reset complete)"}
		}
		if err := explain(ctx, tx, s.sql, probe); err != nil {
			return c.classify(ctx, s.field, "explain", err)
		}
	}
	return nil
}

// explain runs EXPLAIN of stmt under a savepoint, which checks permissions
// without executing anything. An error about the probe's value (not a
// number, say) is not the statement's fault: real IDs may fit.
func explain(ctx context.Context, tx pgx.Tx, stmt string, probe Account) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	defer sp.Rollback(ctx)
	if _, err := sp.Exec(ctx, "EXPLAIN "+stmt, args(probe)); err != nil && !accountSpecific(err) {
		return err
	}
	return nil
}

// accountSpecific reports errors that concern one account's data: data
// exceptions (22), integrity constraints (23), a trigger's RAISE (P0).
func accountSpecific(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "P0":
		return true
	}
	return false
}

func refusedReason(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.ConstraintName != "" {
			return fmt.Sprintf("refused by the database (SQLSTATE %s, constraint %s)", pe.Code, pe.ConstraintName)
		}
		return fmt.Sprintf("refused by the database (SQLSTATE %s)", pe.Code)
	}
	return "refused by the database"
}

// configClasses are the SQLSTATE classes that mean the configuration is
// wrong; their messages name SQL objects, not account data.
var configClasses = map[string]string{
	"42": "the statement is invalid or not permitted",
	"28": "the database refuses the credentials",
	"3D": "no such database",
	"3F": "no such schema",
	"0A": "the statement uses an unsupported feature",
	"25": "the statement cannot run in this transaction (a read-only server?)",
}

// classify turns a database or connection error into a ConfigError or a
// TemporaryError, dropping text that might quote account data.
func (c *sqlConnector) classify(ctx context.Context, field, op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) >= 2 {
		if msg, ok := configClasses[pe.Code[:2]]; ok {
			if pe.Code[:2] == "28" || pe.Code[:2] == "3D" {
				field = "sql.dsn"
			}
			return &ConfigError{Kind: KindSQL, Field: field, Message: msg,
				Err: fmt.Errorf("SQLSTATE %s: %s", pe.Code, pe.Message)}
		}
		return &TemporaryError{Kind: KindSQL, Op: op, Err: fmt.Errorf("SQLSTATE %s", pe.Code)}
	}
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return &TemporaryError{Kind: KindSQL, Op: op, Err: fmt.Errorf("timeout after %s", time.Duration(c.cfg.Timeout))}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &ConfigError{Kind: KindSQL, Field: "sql.dsn", Message: "database host not found"}
	}
	if strings.Contains(err.Error(), "failed to encode args") {
		// A parameter's type is not text; the message quotes the value.
		return &ConfigError{Kind: KindSQL, Field: field, Message: "@account_id or @key cannot be bound: cast it (@account_id::bigint) or compare with a text column"}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return &TemporaryError{Kind: KindSQL, Op: op, Err: safeErr(err)}
	}
	return &TemporaryError{Kind: KindSQL, Op: op, Err: errors.New("database error")}
}

// safeErr keeps the gist of a connection error: pgconn's messages name the
// host, port and user, which are configuration, never account data.
func safeErr(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.New(ce.Error())
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return errors.New("network: " + ne.Error())
	}
	return errors.New("connection failed")
}
