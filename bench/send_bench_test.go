package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/temporalclient"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// sendConnections is the number of SMTP connections of both sides: the
// engine's partitions (one connection each) and the raw loop's goroutines.
const sendConnections = 8

const benchFrom = "Agence <notifications@agence.example>"

// BenchmarkSend sends the letters to N generated people (BENCH_N, 200,000 by
// default) through the whole engine: letters approved under four-eyes,
// start_send, the fan-out over 8 DeliveryPartition workflows, the SendBatch
// activities (claim, open the contact data, render, send over one reused
// connection each, ledger), with the worker a separate `breach worker`
// process on the embedded Temporal server and a real Postgres, to an
// in-process SMTP server in count-only mode. In the same run, a raw loop
// renders the same letters for the same people and sends them with go-mail
// over the same number of connections to the same server. It prints both
// rates, their ratio (goal >= 0.8, floor 0.5), the worker's peak RSS, the
// Temporal history events per 1000 people and the largest history.
func BenchmarkSend(b *testing.B) {
	n := benchN(b)
	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench send: "+format+"\n", args...) }

	dir := b.TempDir()
	bin := filepath.Join(dir, "breach")
	build := exec.Command("go", "build", "-o", bin, "github.com/breach-engine/breach/cmd/breach")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}

	sink, err := smtptest.New(smtptest.Options{CountOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	dbURL := pgtest.NewDatabaseURL(b)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	payloadKey, dataKey := codec.NewKeySpec(), codec.NewKeySpec()
	cdc, _ := codec.FromSpec(payloadKey)
	vlt, err := vault.FromSpec(dataKey)
	if err != nil {
		b.Fatal(err)
	}
	srv := testenv.Temporal(b)
	tc, err := temporalclient.Dial(ctx, temporalclient.Options{Address: srv.HostPort(), Namespace: srv.Namespace(),
		DataConverter: engine.DataConverter(cdc), Logger: testenv.Logger(), Identity: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	queue := fmt.Sprintf("bench-send-%d", time.Now().UnixNano())
	e := &engine.Engine{Store: st, Temporal: tc, Codec: cdc, TaskQueue: queue, ReminderOffsets: breach.DefaultReminderOffsets,
		Logger: slog.New(slog.DiscardHandler), Vault: vlt}
	svc := e.App()

	// The worker: a process of its own, as in production.
	logPath := filepath.Join(dir, "worker.log")
	wlog, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	worker := exec.Command(bin, "worker")
	worker.Env = append(os.Environ(),
		"BREACH_DATABASE_URL="+dbURL, "BREACH_PAYLOAD_KEY="+payloadKey, "BREACH_DATA_KEY="+dataKey,
		"BREACH_TEMPORAL_ADDRESS="+srv.HostPort(), "BREACH_TEMPORAL_NAMESPACE="+srv.Namespace(), "BREACH_TASK_QUEUE="+queue,
		"BREACH_SMTP_HOST="+sink.Host(), "BREACH_SMTP_PORT="+strconv.Itoa(sink.Port()), "BREACH_SMTP_TLS=none",
		"BREACH_SMTP_FROM="+benchFrom, "BREACH_SMTP_RATE=0", "BREACH_SMTP_CONNECTIONS="+strconv.Itoa(sendConnections),
		"BREACH_LOG_LEVEL=warn")
	worker.Stdout, worker.Stderr = wlog, wlog
	worker.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := worker.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = worker.Process.Signal(syscall.SIGTERM)
		time.Sleep(3 * time.Second)
		_ = worker.Process.Kill()
		_ = worker.Wait()
		wlog.Close()
		if b.Failed() {
			if raw, err := os.ReadFile(logPath); err == nil {
				b.Logf("worker log:\n%s", tailOf(raw, 4000))
			}
		}
	}()

	// The incident, assessed high, its people imported, its letters approved.
	dpo := breach.Actor{UserID: "bench-dpo", Role: breach.RoleDPO}
	approver := breach.Actor{UserID: "bench-approver", Role: breach.RoleApprover}
	inc, _, err := svc.OpenIncident(ctx, dpo, demo.Incident(time.Now()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Assess(ctx, dpo, inc.ID, "", workflows.AssessUpdate{Reason: "health data of millions, malicious"}); err != nil {
		b.Fatal(err)
	}
	var file bytes.Buffer
	if err := people.Generate(&file, n, 1, people.CSV); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	res, err := svc.ImportPeople(ctx, dpo, inc.ID, &file, app.ImportPeopleInput{})
	if err != nil || res.Loaded != int64(n) {
		b.Fatalf("import: %+v %v", res.ImportResult, err)
	}
	logf("%d people imported in %s", n, time.Since(t0).Round(time.Millisecond))
	for _, lang := range []breach.Language{breach.French, breach.English} {
		f := benchLetter(lang)
		ref, err := svc.SaveLetter(ctx, dpo, inc.ID, "", workflows.SaveLetterUpdate{Language: lang, Fields: f})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.DecideLetter(ctx, approver, inc.ID, "", workflows.DecideLetterUpdate{Language: lang, Version: ref.Version, Approve: true}); err != nil {
			b.Fatal(err)
		}
	}

	pg := postgresProcs(ctx, st)
	cpuNow := func() cpuTimes {
		self, _ := procCPU(os.Getpid(), false)
		w, _ := procCPU(worker.Process.Pid, false)
		return cpuTimes{self, w, pg.cpu()}
	}

	// The raw loop sends to the first half of the people before the engine
	// runs and to the second half after, so that both meet the same load
	// from whatever else runs on the machine; its rate is over both halves.
	c0 := cpuNow()
	half := int64(n / 2)
	rawTime := rawSend(b, ctx, st, vlt, inc.ID, 1, half, sink)
	rawCPU := cpuNow().sub(c0)
	sink.Reset()

	// The engine.
	c0 = cpuNow()
	t0 = time.Now()
	sendSt, err := svc.StartSend(ctx, dpo, inc.ID, "", workflows.StartSendUpdate{Options: workflows.SendOptions{Partitions: sendConnections}})
	if err != nil {
		b.Fatal(err)
	}
	var last app.PeopleStatus
	for {
		last, err = svc.PeopleStatus(ctx, dpo, inc.ID)
		if err != nil {
			b.Fatal(err)
		}
		if last.Send != nil && last.Send.State == breach.SendCompleted {
			break
		}
		if time.Since(t0) > 2*time.Hour {
			b.Fatalf("not done after 2 h: %+v", last.Counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(t0)
	engineCPU := cpuNow().sub(c0)
	sendRate := float64(n) / elapsed.Seconds()
	if last.Counts.Sent != int64(n) || sink.Count() != n {
		b.Fatalf("counts %+v, relay %d", last.Counts, sink.Count())
	}
	rss := peakRSS(b, worker.Process.Pid)
	c0 = cpuNow()
	rawTime += rawSend(b, ctx, st, vlt, inc.ID, half+1, int64(n), sink)
	rawCPU = rawCPU.add(cpuNow().sub(c0))
	rawRate := float64(n) / rawTime.Seconds()
	logf("raw loop: %.0f messages/s", rawRate)

	// Histories: the People workflow and every run of every partition.
	raw := testenv.Client(b, converter.GetDefaultDataConverter())
	total, largest := 0, 0
	count := func(wid, run string) (events int, next string) {
		it := raw.GetWorkflowHistory(ctx, wid, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			events++
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		return events, next
	}
	peopleWF := breach.PeopleWorkflowID(inc.ID)
	firstRuns := partitionRuns(b, raw, peopleWF)
	ev, _ := count(peopleWF, "")
	total, largest = ev, ev
	runs := 0
	for _, fr := range firstRuns {
		run := fr.run
		for run != "" {
			var e int
			e, run = count(fr.wid, run)
			total += e
			largest = max(largest, e)
			runs++
		}
	}
	incEvents, _ := count(breach.WorkflowID(inc.ID), "")
	largest = max(largest, incEvents)
	per1000 := float64(total) / float64(n) * 1000
	ratio := sendRate / rawRate

	fmt.Printf("\nSend benchmark: %d people, %d partitions / %d SMTP connections, relay in count-only mode\n", n, sendSt.Partitions, sendConnections)
	fmt.Printf("  engine (approve, fan out, render, send, ledger): %s, %.0f messages/s\n", elapsed.Round(time.Millisecond), sendRate)
	fmt.Printf("  raw loop (render + go-mail, same connections):  %.0f messages/s\n", rawRate)
	fmt.Printf("  ratio: %.2f (goal >= 0.8, floor 0.5)\n", ratio)
	fmt.Printf("  CPU during the raw loop: %s\n  CPU during the engine's send: %s\n", rawCPU, engineCPU)
	// On a machine shared with other work the rates move with its load; the
	// CPU each side spends per message does not.
	fmt.Printf("  CPU per message: raw loop %.3f ms, engine %.3f ms: ratio %.2f\n",
		rawCPU.total()/float64(n)*1000, engineCPU.total()/float64(n)*1000, rawCPU.total()/engineCPU.total())
	fmt.Printf("  worker peak RSS: %.1f MB (separate process)\n", rss)
	fmt.Printf("  Temporal history: %d events for the send (People + %d partition runs), %.2f per 1000 people; largest history %d events\n",
		total, runs, per1000, largest)
	fmt.Printf("send_rate=%.0f\nsend_raw_rate=%.0f\nsend_ratio=%.2f\nworker_peak_rss_mb=%.1f\nhistory_events_per_1000=%.2f\nmax_history_events=%d\n",
		sendRate, rawRate, ratio, rss, per1000, largest)
}

// rawSend renders the approved letters for the people with IDs from..to and
// sends them with go-mail over sendConnections connections, each to its
// contiguous share of the people: the baseline. It returns the time taken;
// opening the contact data is not timed.
func rawSend(b *testing.B, ctx context.Context, st *store.Store, v *vault.Vault, incidentID string, from, to int64, sink *smtptest.Server) time.Duration {
	b.Helper()
	inc, err := st.GetIncident(ctx, incidentID)
	if err != nil {
		b.Fatal(err)
	}
	letters := map[breach.Language]breach.LetterVersion{}
	for _, lang := range []breach.Language{breach.French, breach.English} {
		if letters[lang], err = st.CurrentLetter(ctx, incidentID, lang); err != nil {
			b.Fatal(err)
		}
	}
	var rs []breach.Recipient
	for lo := from; lo <= to; lo += 50_000 {
		chunk, err := st.Recipients(ctx, v, incidentID, lo, min(lo+49_999, to))
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, chunk...)
	}
	domain := "agence.example"
	dpo := inc.Controller.DPO
	before := sink.Count()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, sendConnections)
	per := (len(rs) + sendConnections - 1) / sendConnections
	for c := range sendConnections {
		share := rs[min(c*per, len(rs)):min((c+1)*per, len(rs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			gc, err := gomail.NewClient(sink.Host(), gomail.WithPort(sink.Port()), gomail.WithTLSPolicy(gomail.NoTLS),
				gomail.WithTimeout(30*time.Second))
			if err != nil {
				errs <- err
				return
			}
			sc, err := gc.DialToSMTPClientWithContext(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer gc.CloseWithSMTPClient(sc)
			for _, r := range share {
				l := letters[r.Language]
				out, err := templates.Letters{}.RenderLetter(ctx, templates.LetterInput{Incident: inc, Fields: l.Fields, Version: l.Version, Recipient: r})
				if err != nil {
					errs <- err
					return
				}
				m := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
				if err := m.From(benchFrom); err != nil {
					errs <- err
					return
				}
				if err := m.AddToFormat(r.Name, r.Email); err != nil {
					errs <- err
					return
				}
				_ = m.ReplyToFormat(dpo.Name, dpo.Email)
				m.Subject(out.Subject)
				m.SetMessageIDWithValue(strings.Trim(mail.MessageID(incidentID, r.PersonID, l.Version, domain), "<>"))
				m.SetDate()
				m.SetGenHeader("Content-Language", string(r.Language))
				m.SetBodyString(gomail.TypeTextPlain, string(out.Text))
				m.AddAlternativeString(gomail.TypeTextHTML, string(out.HTML))
				if err := gc.SendWithSMTPClient(sc, m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("raw loop: %v", err)
	}
	elapsed := time.Since(t0)
	if got := sink.Count() - before; got != len(rs) {
		b.Fatalf("raw loop: the relay got %d of %d", got, len(rs))
	}
	return elapsed
}

type firstRun struct{ wid, run string }

// partitionRuns finds the first run of each partition in the People history.
func partitionRuns(b *testing.B, c client.Client, peopleWF string) []firstRun {
	var out []firstRun
	it := c.GetWorkflowHistory(context.Background(), peopleWF, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			out = append(out, firstRun{a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()})
		}
	}
	return out
}

// cpuTimes are CPU seconds (user + system) used so far by the bench process
// (the Temporal server, the SMTP server, the raw loop), the worker process,
// and the Postgres server (postmaster and its children).
type cpuTimes struct{ bench, worker, postgres float64 }

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{c.bench - o.bench, c.worker - o.worker, c.postgres - o.postgres}
}

func (c cpuTimes) total() float64 { return c.bench + c.worker + c.postgres }

func (c cpuTimes) add(o cpuTimes) cpuTimes {
	return cpuTimes{c.bench + o.bench, c.worker + o.worker, c.postgres + o.postgres}
}

func (c cpuTimes) String() string {
	return fmt.Sprintf("bench process (Temporal server, SMTP server, raw loop) %.1f s, worker %.1f s, Postgres %.1f s",
		c.bench, c.worker, c.postgres)
}

const clockTicks = 100 // USER_HZ on Linux

// procCPU reads utime+stime (and the reaped children's, with children) of pid
// in seconds, and its parent's pid.
func procCPU(pid int, children bool) (float64, int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i-3], 64); return v }
	t := num(14) + num(15)
	if children {
		t += num(16) + num(17)
	}
	ppid, _ := strconv.Atoi(f[1])
	return t / clockTicks, ppid
}

func (pg *pgProcs) cpu() float64 {
	if pg.postmaster == 0 {
		return 0
	}
	total, _ := procCPU(pg.postmaster, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if t, ppid := procCPU(pid, false); ppid == pg.postmaster {
			total += t
		}
	}
	return total
}

type pgProcs struct{ postmaster int }

// postgresProcs finds the postmaster of the database behind st.
func postgresProcs(ctx context.Context, st *store.Store) *pgProcs {
	var dir string
	if err := st.Pool.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		return &pgProcs{}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return &pgProcs{}
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	return &pgProcs{postmaster: pid}
}

// peakRSS reads the process's VmHWM (peak resident set) in MB.
func peakRSS(b *testing.B, pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

func tailOf(raw []byte, n int) string {
	if len(raw) > n {
		raw = raw[len(raw)-n:]
	}
	return string(raw)
}

// benchLetter is a letter of the usual length in lang.
func benchLetter(lang breach.Language) breach.LetterFields {
	if lang == breach.English {
		return breach.LetterFields{Language: lang, PasswordReset: true,
			Subject:       "Security incident: your personal data",
			WhatHappened:  "Records of job seekers were copied by a third party using a partner's account.\n\nWe found out on 2 March and closed the access the same day.",
			Consequences:  "You may receive messages that quote your data to gain your trust: phishing, fraudulent calls.",
			MeasuresTaken: "The account used was disabled, every partner access reviewed, and a complaint filed.",
			Helpline:      "+33 1 23 45 67 89", HelplineHours: "Monday to Friday, 9 am to 6 pm"}
	}
	return breach.LetterFields{Language: lang, PasswordReset: true,
		Subject:       "Incident de sécurité : vos données personnelles",
		WhatHappened:  "Des données de demandeurs d'emploi ont été copiées par un tiers au moyen du compte d'un partenaire.\n\nNous l'avons découvert le 2 mars et avons fermé l'accès le jour même.",
		Consequences:  "Vous pourriez recevoir des messages qui citent vos données pour gagner votre confiance : hameçonnage, appels frauduleux.",
		MeasuresTaken: "Le compte utilisé a été désactivé, tous les accès des partenaires revus et une plainte déposée.",
		Helpline:      "+33 1 23 45 67 89", HelplineHours: "du lundi au vendredi, de 9 h à 18 h"}
}
