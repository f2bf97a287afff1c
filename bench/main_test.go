// Package bench holds the benchmarks of issue 3, run on the real engine
// against a raw baseline in the same run:
//
//	go test -run '^$' -bench . ./bench/          # BENCH_N people, 200000 by default
//	BENCH_N=4800000 go test -run '^$' -bench Import -timeout 2h ./bench/
//
// Each benchmark prints a readable report, then its figures as name=value
// lines.
package bench

import (
	"testing"

	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/testenv"
)

// TestMain gives the private Postgres server the memory a production server
// of this machine would have (the tests' 32 MB of shared buffers would make
// a million-row load a disk benchmark). The raw baselines run on the same
// server, so the ratios compare like with like.
func TestMain(m *testing.M) {
	pgtest.Settings = []string{"shared_buffers=2GB", "maintenance_work_mem=512MB", "max_wal_size=8GB", "work_mem=64MB"}
	pgtest.Main(m, testenv.Stop)
}
