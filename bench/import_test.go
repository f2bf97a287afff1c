package bench

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

// benchN is the population size: BENCH_N, 200000 by default.
func benchN(b *testing.B) int {
	n := 200000
	if s := os.Getenv("BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("BENCH_N=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

// BenchmarkImport imports N generated people through the real import path
// (HTTP POST of the CSV file to the engine's handler: parsing, normalisation,
// blind index and de-duplication, sealing on every core, COPY into people,
// audit row, commit) and, in the same run and on the same database server,
// COPYs the same rows with pgx as plain text into a bare table (reading the
// same CSV file with encoding/csv). It prints both rates and their ratio
// (goal >= 0.5, floor 0.33). BENCH_RUNS (default 3) runs are made and the
// medians reported.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	n := benchN(b)
	file := filepath.Join(b.TempDir(), "people.csv")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := people.Generate(f, n, 1, people.CSV); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(file)

	st := pgtest.NewStore(b)
	cdc, err := codec.FromSpec(codec.NewKeySpec())
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &engine.Engine{Store: st, Codec: cdc, Vault: v, Logger: logger}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	u, err := st.CreateUser(ctx, breach.System, store.NewUser{Username: "dpo", DisplayName: "DPO", Role: breach.RoleDPO})
	if err != nil {
		b.Fatal(err)
	}
	token, hash := auth.NewToken()
	if err := st.CreateAPIToken(ctx, breach.System, u.ID, "bench", hash); err != nil {
		b.Fatal(err)
	}

	// The machine may be shared: each figure is the median of several runs,
	// the two loads alternating within each run.
	runs := 3
	if s := os.Getenv("BENCH_RUNS"); s != "" {
		if runs, err = strconv.Atoi(s); err != nil || runs <= 0 {
			b.Fatalf("BENCH_RUNS=%q: want a positive integer", s)
		}
	}
	var importTimes, rawTimes []time.Duration
	for i := 0; i < b.N; i++ {
		for range runs {
			b.StopTimer()
			// Both loads start from empty tables.
			if _, err := st.Pool.Exec(ctx, `TRUNCATE people; DROP TABLE IF EXISTS raw_people; CREATE TABLE raw_people (
				email text, first_name text, last_name text, phone text, language text, account_id text)`); err != nil {
				b.Fatal(err)
			}
			in := demo.Incident(time.Now())
			in.Reference = "" // a new incident each run
			inc, _, err := st.CreateIncident(ctx, u.Actor(), in)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()

			// The raw baseline: read the CSV, COPY the columns as text.
			start := time.Now()
			copied, err := rawCopy(ctx, st, file)
			rawTimes = append(rawTimes, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if copied != int64(n) {
				b.Fatalf("raw copy: %d rows, want %d", copied, n)
			}

			start = time.Now()
			res, err := postImport(ctx, srv.URL, token, inc.ID, file)
			importTimes = append(importTimes, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			if res.Loaded != int64(n) || res.Rejected != 0 {
				b.Fatalf("import: %+v", res)
			}
		}
	}
	b.StopTimer()

	importTime, rawTime := median(importTimes), median(rawTimes)
	importRate, rawRate := float64(n)/importTime.Seconds(), float64(n)/rawTime.Seconds()
	ratio := importRate / rawRate
	b.ReportMetric(importRate, "import_rows/s")
	b.ReportMetric(rawRate, "raw_rows/s")
	b.ReportMetric(ratio, "ratio")
	verdict := "goal (>= 0.5) met"
	switch {
	case ratio < 0.33:
		verdict = "BELOW the floor of 0.33"
	case ratio < 0.5:
		verdict = "above the floor (0.33), below the goal (0.5)"
	}
	fmt.Printf("\nImport of %d people (%.1f MB CSV), median of %d runs:\n", n, float64(fi.Size())/(1<<20), len(importTimes))
	fmt.Printf("  engine import (HTTP, parse, normalise, seal, COPY, audit): %10.0f rows/s  (%s; runs %s)\n", importRate, importTime.Round(time.Millisecond), durations(importTimes))
	fmt.Printf("  raw pgx CopyFrom of the same rows as plain text:            %10.0f rows/s  (%s; runs %s)\n", rawRate, rawTime.Round(time.Millisecond), durations(rawTimes))
	fmt.Printf("  ratio %.3f: %s\n", ratio, verdict)
	fmt.Printf("import_rate=%.0f\nimport_raw_rate=%.0f\nimport_ratio=%.3f\n", importRate, rawRate, ratio)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func durations(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(out, " ")
}

// rawCopy streams the CSV file into raw_people with pgx CopyFrom.
func rawCopy(ctx context.Context, st *store.Store, file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // header
		return 0, err
	}
	src := &csvSource{r: r, row: make([]any, 6)}
	n, err := st.Pool.CopyFrom(ctx, pgx.Identifier{"raw_people"},
		[]string{"email", "first_name", "last_name", "phone", "language", "account_id"}, src)
	if err == nil {
		err = src.err
	}
	return n, err
}

type csvSource struct {
	r   *csv.Reader
	rec []string
	row []any
	err error
}

func (s *csvSource) Next() bool {
	s.rec, s.err = s.r.Read()
	if errors.Is(s.err, io.EOF) {
		s.err = nil
		return false
	}
	return s.err == nil
}

func (s *csvSource) Values() ([]any, error) {
	for i, v := range s.rec {
		s.row[i] = v
	}
	return s.row, nil
}

func (s *csvSource) Err() error { return s.err }

// postImport sends the file as `breach people import` does.
func postImport(ctx context.Context, baseURL, token, incidentID, file string) (app.ImportPeopleResult, error) {
	var res app.ImportPeopleResult
	f, err := os.Open(file)
	if err != nil {
		return res, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/incidents/"+incidentID+"/people/import", f)
	if err != nil {
		return res, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("import: HTTP %d: %s", resp.StatusCode, raw)
	}
	return res, json.Unmarshal(raw, &res)
}
