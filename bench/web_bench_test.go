package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/web"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// registerIncidents is the size of the register the web benchmark renders.
const registerIncidents = 10_000

// seedRegister writes n incidents straight into Postgres, in the mix a busy
// register has: a third open, the others assessed at every risk level, with
// drafts pending, returned, approved and filed, some late, a tenth closed.
func seedRegister(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	exec := func(sql string, args ...any) {
		b.Helper()
		if _, err := st.Pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("seed: %v\n%s", err, sql)
		}
	}
	exec(`
		INSERT INTO incidents (reference, title, description, detected_at, aware_at, controller, data_categories,
			subject_categories, approx_subjects, approx_records, breach_types, cause, regimes, state, created_by, created_at)
		SELECT 'bench-' || g, 'Incident ' || g || ': records exposed by a misconfigured export', 'Synthetic incident for the benchmark',
			now() - (g % 500) * interval '1 hour' - interval '2 hours', now() - (g % 500) * interval '1 hour',
			'{"name": "Agence", "siren": "130000003", "legal_representative": "Direction", "dpo": {"name": "DPO", "email": "dpo@example.org"}}',
			'{identification,contact,health}', '{job_seekers}', 1000 + g * 37, 1000 + g * 37, '{confidentiality}',
			'malicious_external', CASE WHEN g % 7 = 0 THEN '{gdpr,nis2}'::text[] ELSE '{gdpr}'::text[] END,
			CASE WHEN g % 3 = 0 THEN 'open' WHEN g % 10 = 1 THEN 'closed' ELSE 'assessed' END,
			'bench', now() - g * interval '1 minute'
		FROM generate_series(1, $1) g`, n)
	exec(`
		INSERT INTO assessments (incident_id, facts, proposal, decided, overridden, reason, decided_by)
		SELECT id, '{}', jsonb_build_object('risk', d.risk, 'enisa', jsonb_build_object('score', 3.5, 'band', 'high')),
			d.risk, false, 'benchmark', 'bench'
		FROM (SELECT id, (ARRAY['none','risk','high'])[1 + (abs(hashtext(id::text)) % 3)] AS risk
			FROM incidents WHERE state <> 'open') d`)
	// Drafts of the initial filing for most assessed incidents that must notify.
	exec(`
		INSERT INTO draft_versions (incident_id, regime, stage, seq, version, state, fields, drafted_by, edited_by, html, content_hash)
		SELECT i.id, 'gdpr', 'initial', 1, 1,
			(ARRAY['pending','returned','approved','filed'])[1 + (abs(hashtext(i.id::text || 'd')) % 4)],
			'{"language": "fr", "nature": "x", "consequences": "y", "measures_taken": "z"}', 'bench', 'bench',
			convert_to('<p>x</p>', 'UTF8'), 'hash'
		FROM incidents i JOIN assessments a ON a.incident_id = i.id
		WHERE a.decided <> 'none' AND abs(hashtext(i.id::text || 'x')) % 5 <> 0`)
	exec(`
		INSERT INTO filings (incident_id, regime, stage, seq, draft_version_id, content_hash, filed_at, channel, reference, late, recorded_by)
		SELECT d.incident_id, 'gdpr', 'initial', 1, d.id, 'hash', i.aware_at + interval '60 hours', 'cnil_online',
			'CNIL-' || i.reference, abs(hashtext(d.id::text)) % 4 = 0, 'bench'
		FROM draft_versions d JOIN incidents i ON i.id = d.incident_id WHERE d.state = 'filed'`)
	exec(`ANALYZE`)
	var drafts, filings int
	_ = st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM draft_versions), (SELECT count(*) FROM filings)`).Scan(&drafts, &filings)
	b.Logf("seeded %d incidents, %d drafts, %d filings in %s", n, drafts, filings, time.Since(start).Round(time.Millisecond))
}

// BenchmarkRegisterPage renders the register (the home page) of 10,000
// incidents through the web handler as a signed-in DPO: the session look-up,
// the use case (the register's queries, the steps and deadlines of every
// incident, filtering and sorting by urgency) and the templ rendering of the
// first page. The page keeps the computed register until the audit log moves,
// so it measures both: after a change (every request reads the register
// again) and unchanged. It prints the p50 and p95 of the server time.
func BenchmarkRegisterPage(b *testing.B) {
	st := pgtest.NewStore(b)
	seedRegister(b, st, registerIncidents)
	ctx := context.Background()
	svc := &app.Service{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	u, err := st.CreateUser(ctx, breach.System, store.NewUser{
		Username: "bench-dpo", Role: breach.RoleDPO, PasswordHash: auth.HashPasswordWith("bench password 1234", auth.Params{Memory: 64, Time: 1, Threads: 1}),
	})
	if err != nil {
		b.Fatal(err)
	}
	sess, err := svc.SignIn(ctx, app.DefaultSessionPolicy, app.SignInRequest{Username: u.Username, Password: "bench password 1234", IP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	h := web.New(web.Options{App: svc, Logger: svc.Logger}).Handler()
	serve := func(path string) (time.Duration, int) {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "breach_session", Value: sess.Token})
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body.String())
		}
		return d, rec.Body.Len()
	}
	// The page does show the register.
	if _, size := serve("/"); size < 10_000 {
		b.Fatalf("register page of %d bytes", size)
	}
	for i := 0; i < 3; i++ { // warm the pool and the caches
		serve("/")
	}

	// The store's part alone: the three queries of the register.
	var qt []time.Duration
	for range 20 {
		t0 := time.Now()
		if _, _, err := st.IncidentSummaries(ctx); err != nil {
			b.Fatal(err)
		}
		qt = append(qt, time.Since(t0))
	}
	slices.Sort(qt)
	fmt.Printf("register queries alone (store.IncidentSummaries): p50 %s\n", qt[len(qt)/2].Round(10*time.Microsecond))

	const samples = 60
	for _, c := range []struct {
		name, path string
		changed    bool // a change before each request: the register is read again
	}{
		{"all-after-change", "/", true},
		{"all-unchanged", "/", false},
		{"filtered-unchanged", "/?state=assessed&risk=high&waiting=dpo", false},
	} {
		var times []time.Duration
		var size int
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				for range samples {
					if c.changed {
						// Any audited change moves the audit head, as opening an incident would.
						if err := st.RecordRejection(ctx, "", u.Actor(), "benchmark", "a change"); err != nil {
							b.Fatal(err)
						}
					}
					d, n := serve(c.path)
					times = append(times, d)
					size = n
				}
			}
		})
		if len(times) == 0 {
			continue
		}
		slices.Sort(times)
		p50, p95 := times[len(times)*50/100], times[len(times)*95/100]
		fmt.Printf("register page (%s, %d incidents, %d KiB): p50 %s, p95 %s over %d requests\n",
			c.name, registerIncidents, size/1024, p50.Round(10*time.Microsecond), p95.Round(10*time.Microsecond), len(times))
		fmt.Printf("web_register_%s_p50_ms=%.1f\nweb_register_%s_p95_ms=%.1f\n", c.name, ms(p50), c.name, ms(p95))
		if p95 > 100*time.Millisecond {
			fmt.Printf("register page (%s) p95 %s is above the 100 ms target\n", c.name, p95)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// incidentPeople is the population of the incident page benchmark:
// BENCH_PEOPLE, 1,000,000 by default.
func incidentPeople(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("BENCH_PEOPLE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("BENCH_PEOPLE=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

// BenchmarkIncidentPage renders the incident page of an incident with
// BENCH_PEOPLE people (1,000,000 by default) through the web handler as a
// signed-in DPO. The incident is opened and assessed through the engine, its
// workflows running on the embedded Temporal server with an in-process
// worker, so that the timeline merges their events. The people come in
// through the real import path (the import use case reading a generated CSV
// file: parsing, normalisation, blind index, sealing, COPY); the letters are
// approved under four-eyes in the store and a send is started with its whole
// ledger made by the store's bulk ledger creation (SeedLedger, as
// start_send's seeding activities do), so the page shows the delivery
// progress of a million letters; the page reads counters, never the ledger
// or the people. It prints the p50 and p95 of the server time of the whole
// page (with the workflow events read from Temporal) and of the page
// without Temporal (audit rows only).
func BenchmarkIncidentPage(b *testing.B) {
	n := incidentPeople(b)
	st := pgtest.NewStore(b)
	ctx := context.Background()
	vlt, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		b.Fatal(err)
	}
	cdc := testenv.Codec(b)
	tc := testenv.Client(b, engine.DataConverter(cdc))
	queue := testenv.TaskQueue(b)
	testenv.Worker(b, tc, queue, func(r worker.Registry) {
		engine.Register(r, &activities.Activities{Store: st, Dossiers: templates.Dossiers{}, Logger: testenv.Logger()})
	})
	svc := &app.Service{Store: st, Temporal: tc, TaskQueue: queue, ReminderOffsets: breach.DefaultReminderOffsets,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Vault: vlt}
	u, err := st.CreateUser(ctx, breach.System, store.NewUser{
		Username: "bench-dpo", Role: breach.RoleDPO, PasswordHash: auth.HashPasswordWith("bench password 1234", auth.Params{Memory: 64, Time: 1, Threads: 1}),
	})
	if err != nil {
		b.Fatal(err)
	}
	dpo := u.Actor()
	approver := breach.Actor{UserID: "bench-approver", Role: breach.RoleApprover}
	inc, _, err := svc.OpenIncident(ctx, dpo, demo.Incident(time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Assess(ctx, dpo, inc.ID, "", workflows.AssessUpdate{Reason: "health data of millions, malicious"}); err != nil {
		b.Fatal(err)
	}

	// The people, through the import use case.
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(people.Generate(pw, n, 1, people.CSV)) }()
	res, err := svc.ImportPeople(ctx, dpo, inc.ID, pr, app.ImportPeopleInput{})
	if err != nil {
		b.Fatal(err)
	}
	if res.Loaded != int64(n) {
		b.Fatalf("import: %+v", res.ImportResult)
	}
	imported := time.Since(start)

	// The letters approved, the send started and its ledger made.
	start = time.Now()
	var letters []breach.ApprovedLetter
	for _, lang := range []breach.Language{breach.French, breach.English} {
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			slot, err := tx.PrepareLetter(ctx, dpo, inc.ID, lang, 0)
			if err != nil {
				return err
			}
			l, err := tx.SaveLetterVersion(ctx, dpo, slot, breach.LetterFields{Language: lang, Subject: "Subject",
				WhatHappened: "Nature.", Consequences: "Consequences.", MeasuresTaken: "Measures.", PasswordReset: true}, "hash-"+string(lang))
			if err != nil {
				return err
			}
			if l, err = tx.DecideLetter(ctx, approver, inc.ID, l.ID, true, "ok"); err != nil {
				return err
			}
			letters = append(letters, breach.ApprovedLetter{ID: l.ID, Language: lang, Version: l.Version, ContentHash: l.ContentHash})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	const partitions = 8
	var send breach.Send
	if err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) (err error) {
		send, err = tx.StartSend(ctx, dpo, store.StartSendInput{IncidentID: inc.ID, Letters: letters,
			Policy: breach.PolicyResend, Partitions: partitions})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var ledger int64
	const chunk = 100_000
	for from := send.MinPerson; from <= send.MaxPerson; from += chunk {
		to := min(from+chunk-1, send.MaxPerson)
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			m, err := tx.SeedLedger(ctx, inc.ID, letters, from, to, int((from/chunk)%partitions))
			ledger += m
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if ledger != int64(n) {
		b.Fatalf("ledger: %d rows for %d people", ledger, n)
	}
	if _, err := st.Pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d people in %s (import), the send and its ledger of %d rows in %s",
		n, imported.Round(time.Millisecond), ledger, time.Since(start).Round(time.Millisecond))

	sess, err := svc.SignIn(ctx, app.DefaultSessionPolicy, app.SignInRequest{Username: u.Username, Password: "bench password 1234", IP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	withWorkflows := web.New(web.Options{App: svc, Logger: svc.Logger, Payloads: engine.DataConverter(cdc)}).Handler()
	noTemporal := *svc
	noTemporal.Temporal = nil
	auditOnly := web.New(web.Options{App: &noTemporal, Logger: svc.Logger}).Handler()
	path := "/incidents/" + inc.ID
	serve := func(h http.Handler) (time.Duration, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "breach_session", Value: sess.Token})
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body.String())
		}
		return d, rec.Body.String()
	}
	// The page does show the million letters waiting, and the workflows' events.
	_, body := serve(withWorkflows)
	if !strings.Contains(body, `data-count="pending">`) || !strings.Contains(body, `max="`+strconv.Itoa(n)+`"`) {
		b.Fatalf("incident page lacks the delivery progress of %d people", n)
	}
	if !strings.Contains(body, `data-source="workflow"`) || strings.Contains(body, "workflows-unavailable") {
		b.Fatalf("incident page lacks the workflow events")
	}
	for range 3 { // warm the pool and the caches
		serve(withWorkflows)
		serve(auditOnly)
	}

	const samples = 60
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"dpo-with-workflows", withWorkflows}, {"dpo-audit-only", auditOnly}} {
		var times []time.Duration
		var size int
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				for range samples {
					d, body := serve(c.h)
					times = append(times, d)
					size = len(body)
				}
			}
		})
		if len(times) == 0 {
			continue
		}
		slices.Sort(times)
		p50, p95 := times[len(times)*50/100], times[len(times)*95/100]
		fmt.Printf("incident page (%s, %d people, ledger of %d rows, %d KiB): p50 %s, p95 %s over %d requests\n",
			c.name, n, ledger, size/1024, p50.Round(10*time.Microsecond), p95.Round(10*time.Microsecond), len(times))
		fmt.Printf("web_incident_%s_p50_ms=%.1f\nweb_incident_%s_p95_ms=%.1f\n", c.name, ms(p50), c.name, ms(p95))
		if p95 > 100*time.Millisecond {
			fmt.Printf("incident page (%s) p95 %s is above the 100 ms target\n", c.name, p95)
		}
	}
}
