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

func TestMain(m *testing.M) { pgtest.Main(m, testenv.Stop) }
