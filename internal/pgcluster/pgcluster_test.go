package pgcluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/pgcluster"
)

func TestStartCreateStopReuse(t *testing.T) {
	if _, err := pgcluster.FindBinaries(); errors.Is(err, pgcluster.ErrNoBinaries) {
		t.Skip(err)
	}
	// Not t.TempDir: its parent is private to root, and the server may run as postgres.
	root, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// As `breach dev` lays it out: the cluster in a folder of a private folder.
	dotBreach := filepath.Join(root, ".breach")
	if err := os.Mkdir(dotBreach, 0o750); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dotBreach, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "breach_probe"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "breach_probe"); err != nil {
		t.Fatalf("second CreateDatabase: %v", err)
	}
	conn, err := pgx.Connect(ctx, c.URL("breach_probe"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	var addr string
	if err := conn.QueryRow(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" {
		t.Errorf("server address %q, want 127.0.0.1", addr)
	}
	conn.Close(ctx)
	firstPort := c.Port()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid still there after Stop: %v", err)
	}

	// The same folder is reused, data intact.
	c2, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	conn, err = pgx.Connect(ctx, c2.URL("breach_probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("reused cluster lost its data: %v %d", err, v)
	}
	t.Logf("ports %d then %d", firstPort, c2.Port())
}
