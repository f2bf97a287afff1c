package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestDatabasesAreFreshAndMigrated(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.NewStore(t), pgtest.NewStore(t)
	for _, st := range []*store.Store{a, b} {
		v, err := st.SchemaVersion(ctx)
		if err != nil || v != store.LatestVersion() {
			t.Fatalf("schema version %d %v, want %d", v, err, store.LatestVersion())
		}
	}
	if _, err := a.Pool.Exec(ctx, `INSERT INTO applied_ops (op_key, result) VALUES ('only-in-a', 'null')`); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Applied(ctx, "only-in-a"); err != nil || ok {
		t.Fatalf("databases share rows: %v %v", ok, err)
	}
}

func TestEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewEmptyDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables %v", n, err)
	}
}

func TestParallelDatabases(t *testing.T) {
	for i := 0; i < 6; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			st := pgtest.NewStore(t)
			if err := st.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
