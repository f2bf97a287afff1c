// Package pgcluster runs a private PostgreSQL cluster with the system's own
// binaries (initdb, postgres, pg_ctl), for `breach dev` and for tests. It
// listens on 127.0.0.1 only, on a free port, with its unix socket inside the
// data folder, and trusts loopback connections: it is a developer's cluster,
// never a production database.
//
// PostgreSQL refuses to run as root, so when the process is root the cluster is
// created and run as the `postgres` system user, and the data folder is given
// to that user.
//
// The server runs as a child of the calling process and receives SIGINT (fast
// shutdown) if that process dies without calling Stop, so a killed `breach dev`
// or test binary does not leave a server behind.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the name of the cluster's superuser.
const Superuser = "postgres"

// DebianPackage is the package that provides the binaries on Debian and Ubuntu.
const DebianPackage = "postgresql"

const (
	loopback = "127.0.0.1"
	logName  = "breach-postgres.log"
)

// Config says where the cluster lives and how it runs.
type Config struct {
	// Dir is the data folder (PGDATA). It is created when missing and reused
	// when it already holds a cluster.
	Dir string
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// Ephemeral trades durability for speed (fsync off): for test clusters
	// whose data is thrown away.
	Ephemeral bool
	// Settings are more server settings, "name=value" each, given after
	// (and so over) the defaults above: the benchmarks size the server as
	// production would (shared_buffers), where tests keep it small.
	Settings []string
	// StartTimeout bounds how long Start waits for the server to accept
	// connections; 0 means 60 seconds.
	StartTimeout time.Duration
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	dir     string
	port    int
	bin     string
	logPath string
	cred    *syscall.Credential
	log     *slog.Logger
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error

	stopOnce sync.Once
	stopErr  error
}

// ErrNoBinaries is returned (wrapped) when no PostgreSQL binaries are found.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin; install them with `apt-get install " + DebianPackage + "` (Debian/Ubuntu package " + DebianPackage + "), or set BREACH_DATABASE_URL / TEST_DATABASE_URL to an existing server")

// FindBinaries returns the folder holding initdb, postgres and pg_ctl: from
// PATH first, then the newest /usr/lib/postgresql/<version>/bin.
func FindBinaries() (string, error) {
	return findBinaries(exec.LookPath, "/usr/lib/postgresql/*/bin")
}

func findBinaries(lookPath func(string) (string, error), glob string) (string, error) {
	if p, err := lookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(resolved)
		}
		if hasAll(dir) {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob(glob)
	best, bestVersion := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(m)))
		if err != nil {
			v = 0
		}
		if hasAll(m) && v > bestVersion {
			best, bestVersion = m, v
		}
	}
	if best == "" {
		return "", ErrNoBinaries
	}
	return best, nil
}

func hasAll(dir string) bool {
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Start creates the cluster when Dir holds none, starts the server and waits
// until it accepts connections.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgcluster: no data folder given")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: data folder: %w", err)
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, log: cfg.Logger, logPath: filepath.Join(dir, logName)}

	if os.Geteuid() == 0 {
		cred, err := postgresCredential()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}

	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if !c.initialised() {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	} else {
		cfg.Logger.Info("reusing PostgreSQL cluster", "dir", dir)
		c.stopStale(ctx)
	}

	attempts := 1
	if cfg.Port == 0 {
		attempts = 3 // another process may take the free port before postgres binds it
	}
	for i := 0; i < attempts; i++ {
		port := cfg.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = c.start(ctx, port, cfg)
		if err == nil {
			cfg.Logger.Info("PostgreSQL cluster ready", "dir", dir, "port", port)
			return c, nil
		}
	}
	return nil, err
}

// postgresCredential finds the postgres system user to run the server as root.
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root and there is no `postgres` system user to run PostgreSQL as (PostgreSQL refuses to run as root); install the %s package, which creates it, or run as an unprivileged user: %w", DebianPackage, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: postgres user has a non-numeric uid or gid")
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// prepareDir creates the data folder and, as root, gives it to postgres.
func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: create data folder: %w", err)
	}
	if c.cred == nil {
		return nil
	}
	uid, gid := int(c.cred.Uid), int(c.cred.Gid)
	err := filepath.WalkDir(c.dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("pgcluster: give the data folder to the postgres user: %w", err)
	}
	// The postgres user must be able to reach the folder. The folder that
	// holds it (e.g. `.breach`, made for the engine) is opened for search
	// only, not listing; folders further up are left alone.
	parent := filepath.Dir(c.dir)
	for p := parent; ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && !c.searchable(fi) {
			if p != parent {
				return fmt.Errorf("pgcluster: the postgres user cannot reach %s: folder %s is not searchable by it; choose a data folder elsewhere", c.dir, p)
			}
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("pgcluster: let the postgres user reach %s: %w", c.dir, err)
			}
			c.log.Info("allowed the postgres user to traverse the data folder's parent", "dir", p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return nil
}

// searchable says whether the postgres user may traverse a folder.
func (c *Cluster) searchable(fi os.FileInfo) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return true // cannot tell: let initdb report it
	case st.Uid == c.cred.Uid:
		return perm&0o100 != 0
	case st.Gid == c.cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func (c *Cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.dir, "PG_VERSION"))
	return err == nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.log.Info("creating PostgreSQL cluster", "dir", c.dir)
	cmd := c.command(ctx, "initdb",
		"-D", c.dir,
		"-U", Superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
		"--no-instructions",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: initdb in %s: %w\n%s", c.dir, err, tail(out.String(), 2000))
	}
	return nil
}

// stopStale stops a server left running on the folder by an earlier process.
func (c *Cluster) stopStale(ctx context.Context) {
	if _, err := os.Stat(filepath.Join(c.dir, "postmaster.pid")); err != nil {
		return
	}
	status := c.command(ctx, "pg_ctl", "status", "-D", c.dir)
	if status.Run() != nil {
		return // not running: postgres removes a stale pid file itself
	}
	c.log.Warn("stopping a PostgreSQL server left running on the data folder", "dir", c.dir)
	stop := c.command(ctx, "pg_ctl", "stop", "-D", c.dir, "-m", "fast", "-w", "-t", "60")
	_ = stop.Run()
}

// socketDir is where the unix socket goes: the data folder when its path is
// short enough for a socket address, otherwise no unix socket at all.
func (c *Cluster) socketDir() string {
	if len(filepath.Join(c.dir, ".s.PGSQL.65535.lock")) < 100 {
		return c.dir
	}
	return ""
}

func (c *Cluster) start(ctx context.Context, port int, cfg Config) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: open server log: %w", err)
	}
	defer logFile.Close()
	if c.cred != nil {
		_ = os.Chown(c.logPath, int(c.cred.Uid), int(c.cred.Gid))
	}
	logStart, _ := logFile.Seek(0, io.SeekEnd)

	args := []string{
		"-D", c.dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=" + loopback,
		"-c", "unix_socket_directories=" + c.socketDir(),
		"-c", "max_connections=200",
		"-c", "timezone=UTC",
		"-c", "log_timezone=UTC",
	}
	if cfg.Ephemeral {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB",
		)
	}
	for _, kv := range cfg.Settings {
		args = append(args, "-c", kv)
	}
	// Not CommandContext: the server outlives Start's context.
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		Setpgid:    true,           // a Ctrl-C in the terminal is ours to handle, not the server's
		Pdeathsig:  syscall.SIGINT, // fast shutdown if we die without Stop
	}
	// Pdeathsig fires when the thread that started the child exits, not the
	// process: start and wait from one goroutine locked to its thread, so the
	// thread lives exactly as long as the server.
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.exitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.cmd, c.exited, c.port = cmd, exited, port

	timeout := time.NewTimer(cfg.StartTimeout)
	defer timeout.Stop()
	for {
		if c.ready(cmd.Process.Pid, port) && c.ping(ctx) == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("pgcluster: postgres exited during start-up (%v); server log %s:\n%s", c.exitErr, c.logPath, c.logSince(logStart))
		case <-ctx.Done():
			c.kill()
			return fmt.Errorf("pgcluster: waiting for postgres: %w", ctx.Err())
		case <-timeout.C:
			c.kill()
			return fmt.Errorf("pgcluster: postgres did not accept connections within %s; server log %s:\n%s", cfg.StartTimeout, c.logPath, c.logSince(logStart))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ready reads postmaster.pid: our process, on our port, ready for connections.
func (c *Cluster) ready(pid, port int) bool {
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 {
		return false
	}
	return strings.TrimSpace(lines[0]) == strconv.Itoa(pid) &&
		strings.TrimSpace(lines[3]) == strconv.Itoa(port) &&
		strings.TrimSpace(lines[7]) == "ready"
}

func (c *Cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (c *Cluster) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
}

func (c *Cluster) logSince(offset int64) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return tail(string(b[offset:]), 4000)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Dir is the data folder.
func (c *Cluster) Dir() string { return c.dir }

// Port is the TCP port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// LogPath is the server's log file.
func (c *Cluster) LogPath() string { return c.logPath }

// URL is the connection URL of database db as the superuser.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort(loopback, strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	return CreateDatabase(ctx, c.URL("postgres"), name, "")
}

// CreateDatabase creates database name on the server at serverURL, from
// template when it is not empty, unless a database of that name exists.
func CreateDatabase(ctx context.Context, serverURL, name, template string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("pgcluster: create database: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// waits for it to exit. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.cmd == nil {
			return
		}
		select {
		case <-c.exited:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		stop := c.command(ctx, "pg_ctl", "stop", "-D", c.dir, "-m", "fast", "-w", "-t", "60")
		var out bytes.Buffer
		stop.Stdout, stop.Stderr = &out, &out
		if err := stop.Run(); err != nil {
			// pg_ctl could not do it: signal the server directly.
			c.log.Warn("pg_ctl stop failed; signalling postgres", "err", err, "output", tail(out.String(), 500))
			_ = c.cmd.Process.Signal(syscall.SIGINT)
		}
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.exited
				c.stopErr = errors.New("pgcluster: postgres did not stop; killed")
			}
		}
	})
	return c.stopErr
}
