// Package pgtest gives each test a fresh, migrated PostgreSQL database.
//
// With TEST_DATABASE_URL set (the URL of a server the tests may create and drop
// databases on, e.g. postgres://postgres@127.0.0.1:5432/postgres), databases
// are made there. Otherwise one private cluster is started per test binary
// with the system's PostgreSQL binaries, in a temporary folder, as `breach dev`
// does. Either way migrations run once per binary, into a template database;
// each test's database is a copy of it (CREATE DATABASE ... TEMPLATE), which
// takes milliseconds.
//
// Packages using pgtest call it from TestMain so that the private cluster is
// stopped and its folder removed when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// or, with other helpers to shut down after the tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m, testenv.Stop) }
//
// Without it the cluster still stops when the test binary exits (it is the
// binary's child), but its temporary folder stays until a later run sweeps it.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breach-engine/breach/internal/pgcluster"
	"github.com/breach-engine/breach/internal/store"
)

// EnvURL names the variable holding the URL of an existing server to use.
const EnvURL = "TEST_DATABASE_URL"

const dirPattern = "breach-pgtest-"

// Settings are server settings ("name=value") for the private cluster, set
// by a package's TestMain before Main; ignored with TEST_DATABASE_URL. The
// tests run with small defaults (many clusters at once); the benchmarks size
// the server as a production one would be.
var Settings []string

type server struct {
	url      string // as given, or the private cluster's postgres database
	admin    *pgxpool.Pool
	cluster  *pgcluster.Cluster
	dir      string
	template string
}

var (
	once    sync.Once
	srv     *server
	srvErr  error
	counter atomic.Int64
	prefix  = randomPrefix()
)

func randomPrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("breach_t%d_%s", os.Getpid(), hex.EncodeToString(b))
}

// Main runs the package's tests, then the cleanups (other helpers' shutdown
// functions, e.g. of a shared Temporal server), then stops the private
// cluster, and exits with the tests' status.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	Shutdown()
	os.Exit(code)
}

// Run runs the package's tests and stops the private cluster, without
// exiting: for a TestMain that composes several helpers.
func Run(m *testing.M) int {
	code := m.Run()
	Shutdown()
	return code
}

// Shutdown stops the private cluster and removes its folder; Main calls it.
func Shutdown() {
	if srv == nil {
		return
	}
	defer func() { srv = nil }()
	if srv.admin != nil {
		srv.admin.Close()
	}
	if srv.cluster != nil {
		if err := srv.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	if srv.dir != "" {
		_ = os.RemoveAll(srv.dir)
	}
}

func get(t testing.TB) *server {
	t.Helper()
	once.Do(func() { srv, srvErr = setup() })
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	if srv == nil {
		t.Fatal("pgtest: used after Shutdown")
	}
	return srv
}

func setup() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &server{url: os.Getenv(EnvURL)}
	if s.url == "" {
		sweep()
		dir, err := os.MkdirTemp("", dirPattern+"*")
		if err != nil {
			return s, err
		}
		s.dir = dir
		c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Ephemeral: true, Settings: Settings})
		if err != nil {
			_ = os.RemoveAll(dir)
			s.dir = ""
			return s, fmt.Errorf("%w (or set %s to a server the tests may create databases on)", err, EnvURL)
		}
		s.cluster = c
		s.url = c.URL("postgres")
	}
	cfg, err := pgxpool.ParseConfig(s.url)
	if err != nil {
		return s, fmt.Errorf("%s: invalid URL", EnvURL)
	}
	cfg.MaxConns = 4
	s.admin, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return s, err
	}
	if err := s.makeTemplate(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// sweep removes folders of earlier private clusters whose binary did not get
// to remove them: not running, and older than an hour.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < time.Hour {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postmaster.pid")); err == nil {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// migrationsDigest names the template after the migrations it holds, so that
// binaries built from the same migrations share it on an external server.
func migrationsDigest() (string, error) {
	h := sha256.New()
	fsys := store.Migrations()
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// makeTemplate creates the migrated template database unless it exists. It
// is built under another name and renamed when complete, under an advisory
// lock, so concurrent test binaries neither race nor see half a template.
func (s *server) makeTemplate(ctx context.Context) error {
	digest, err := migrationsDigest()
	if err != nil {
		return err
	}
	s.template = "breach_tpl_" + digest
	building := s.template + "_building"

	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lockClass, lockTemplate = 0x42524348, 3
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockTemplate); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, lockTemplate)

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, s.template).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+ident(building)+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident(building)+` TEMPLATE template0`); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	if err := store.Migrate(ctx, s.dbURL(building)); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+ident(building)+` RENAME TO `+ident(s.template)); err != nil {
		return fmt.Errorf("rename template database: %w", err)
	}
	// Nobody connects to the template: a connection would block copies of it.
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+ident(s.template)+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`); err != nil {
		return fmt.Errorf("seal template database: %w", err)
	}
	return nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// dbURL is the server URL pointed at database name.
func (s *server) dbURL(name string) string {
	if u, err := url.Parse(s.url); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	// keyword=value form: a later dbname wins.
	return s.url + " dbname=" + name
}

func (s *server) create(t testing.TB, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("%s_%d", prefix, counter.Add(1))
	if _, err := s.admin.Exec(ctx, `CREATE DATABASE `+ident(name)+` TEMPLATE `+ident(template)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, `DROP DATABASE IF EXISTS `+ident(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return s.dbURL(name)
}

// NewDatabaseURL creates a fresh, migrated database for the test, dropped
// when the test ends, and returns its URL.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	s := get(t)
	return s.create(t, s.template)
}

// NewEmptyDatabaseURL creates a fresh database without any migration applied
// (for migration tests), dropped when the test ends.
func NewEmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return get(t).create(t, "template0")
}

// NewStore opens a store on a fresh, migrated database; it is closed and the
// database dropped when the test ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	dbURL := NewDatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(st.Close) // runs before the database is dropped
	return st
}

// ServerURL is the URL of the server the databases are made on.
func ServerURL(t testing.TB) string {
	t.Helper()
	return get(t).url
}
