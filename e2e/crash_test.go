package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/temporalclient"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/workflows"
)

// crashPeople is the population of the crash test: BREACH_CRASH_N, default
// 50,000 (the figure; about a minute and a half on two cores).
func crashPeople(t *testing.T) int {
	n := 50_000
	if s := os.Getenv("BREACH_CRASH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			t.Fatalf("BREACH_CRASH_N=%q: want a number >= 100", s)
		}
		n = v
	}
	return n
}

// buildBreach builds the breach binary into dir.
func buildBreach(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "breach")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/breach-engine/breach/cmd/breach")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// workerProc is one `breach worker` process.
type workerProc struct {
	cmd *exec.Cmd
	log *os.File
}

func startWorker(t testing.TB, bin string, env []string, logPath string) *workerProc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n--- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// The worker dies with the test process, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start worker: %v", err)
	}
	return &workerProc{cmd: cmd, log: f}
}

// kill sends SIGKILL and reaps the process.
func (w *workerProc) kill() {
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	_ = w.cmd.Wait()
	w.log.Close()
}

// TestSendSurvivesWorkerKills sends to BREACH_CRASH_N people with the worker
// as a separate `breach worker` process, SIGKILLed at random moments at least
// five times and restarted. At the end no person is missed, every ledger row
// is terminal, and the messages received twice are no more than the rows whose
// outcome the kills made unknown, each of them unknown then resent in the
// ledger's history.
func TestSendSurvivesWorkerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a long send")
	}
	n := crashPeople(t)
	dir := t.TempDir()
	bin := buildBreach(t, dir)

	sink := smtptest.Start(t, smtptest.Options{CountOnly: true, CountIDs: true})
	dbURL := pgtest.NewDatabaseURL(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	payloadKey, dataKey := codec.NewKeySpec(), codec.NewKeySpec()
	cdc, err := codec.FromSpec(payloadKey)
	if err != nil {
		t.Fatal(err)
	}
	vlt, err := vault.FromSpec(dataKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := testenv.Temporal(t)
	tc, err := temporalclient.Dial(ctx, temporalclient.Options{Address: srv.HostPort(), Namespace: srv.Namespace(),
		DataConverter: engine.DataConverter(cdc), Logger: testenv.Logger(), Identity: "crash-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	queue := testenv.TaskQueue(t)
	// The test process serves the API; it runs no worker.
	e := &engine.Engine{Store: st, Temporal: tc, Codec: cdc, TaskQueue: queue,
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), Vault: vlt}
	hs := httptest.NewServer(e.Handler())
	t.Cleanup(hs.Close)
	v := &sendEnv{env: &env{t: t, store: st, engine: e, baseURL: hs.URL, tokens: map[string]string{}, users: map[string]store.User{}},
		sink: sink, vault: vlt, dataKey: dataKey}
	for _, u := range []struct {
		name string
		role breach.Role
	}{{"dpo", breach.RoleDPO}, {"approver", breach.RoleApprover}, {"approver2", breach.RoleApprover}, {"auditor", breach.RoleAuditor}} {
		user, err := st.CreateUser(ctx, breach.System, store.NewUser{Username: u.name, Role: u.role, PasswordHash: auth.HashPassword("x-x-x-x-x-x")})
		if err != nil {
			t.Fatal(err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(ctx, breach.System, user.ID, "e2e", hash); err != nil {
			t.Fatal(err)
		}
		v.tokens[u.name], v.users[u.name] = token, user
	}

	// Sending alone takes at least 15 s, so that the kills fall in it.
	rate := max(1, n/8/15)
	workerEnv := []string{
		"BREACH_DATABASE_URL=" + dbURL, "BREACH_PAYLOAD_KEY=" + payloadKey, "BREACH_DATA_KEY=" + dataKey,
		"BREACH_TEMPORAL_ADDRESS=" + srv.HostPort(), "BREACH_TEMPORAL_NAMESPACE=" + srv.Namespace(), "BREACH_TASK_QUEUE=" + queue,
		"BREACH_SMTP_HOST=" + sink.Host(), "BREACH_SMTP_PORT=" + strconv.Itoa(sink.Port()), "BREACH_SMTP_TLS=none",
		"BREACH_SMTP_FROM=" + senderAddress, "BREACH_SMTP_CONNECTIONS=8", "BREACH_SMTP_RATE=" + strconv.Itoa(rate),
		"BREACH_LOG_LEVEL=warn",
	}
	logPath := filepath.Join(dir, "worker.log")
	w := startWorker(t, bin, workerEnv, logPath)
	t.Cleanup(func() { w.kill() })
	defer func() {
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("worker log (tail):\n%s", tail(b, 4000))
			}
		}
	}()

	v.openIncident(n, 17)
	v.approveLetters()
	start := time.Now()
	v.startSend(workflows.SendOptions{Partitions: 8, BatchSize: 500, BatchesPerRun: 20,
		Lease: 8 * time.Second, HeartbeatTimeout: 3 * time.Second})

	// Kill the worker at random moments while the letters go out (each time
	// after a random number of messages since it was restarted, so that
	// every kill falls in the middle of sending), and restart it at once.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	kills := 0
	for kills < 5 {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := sink.WaitCount(wctx, sink.Count()+1+rng.IntN(max(n/12, 1)))
		cancel()
		if err != nil {
			t.Fatalf("no progress after kill %d: %v", kills, err)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		st := v.peek()
		if st.Send != nil && st.Send.State == breach.SendCompleted {
			t.Fatalf("the send completed after %d kills: raise BREACH_CRASH_N", kills)
		}
		w.kill()
		kills++
		t.Logf("kill %d at %s: %d messages received, counts %+v", kills, time.Since(start).Round(time.Millisecond), sink.Count(), st.Counts)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		w = startWorker(t, bin, workerEnv, logPath)
	}
	final := v.waitDone(10 * time.Minute)
	t.Logf("%d people, %d kills, done in %s; %d messages received", n, kills, time.Since(start).Round(time.Millisecond), sink.Count())

	// Every row is terminal: sent (the relay accepted every message).
	if final.Counts.Sent != int64(n) || final.Counts.Pending+final.Counts.Sending+final.Counts.Unknown+final.Counts.Failed != 0 {
		t.Fatalf("counts %+v", final.Counts)
	}
	if c, err := st.CountLedger(ctx, v.incident); err != nil || c != final.Counts {
		t.Fatalf("COUNT %+v, counters %+v (%v)", c, final.Counts, err)
	}
	rs := v.recipients(n)
	for _, r := range rs {
		if sink.ByRecipient(r.Email) < 1 {
			t.Fatalf("person %d was missed", r.PersonID)
		}
	}
	rows, err := st.LedgerRows(ctx, v.incident, 1, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	events, err := st.LedgerEvents(ctx, v.incident, 1, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	// Per person: was the row unknown, then claimed again (resent)?
	type history struct{ unknown, resent bool }
	hist := map[int64]*history{}
	for _, e := range events {
		h := hist[e.PersonID]
		if h == nil {
			h = &history{}
			hist[e.PersonID] = h
		}
		switch {
		case e.To == breach.DeliveryUnknown:
			h.unknown = true
		case e.From == breach.DeliveryUnknown && e.To == breach.DeliverySending && h.unknown:
			h.resent = true
		}
	}
	inFlight := 0
	for _, h := range hist {
		if h.unknown {
			inFlight++
		}
	}
	byMessageID := map[string]store.LedgerRow{}
	for _, r := range rows {
		byMessageID[r.MessageID] = r
	}
	extra := 0
	for id, count := range sink.Duplicates() {
		row, ok := byMessageID[id]
		if !ok {
			t.Fatalf("message %s received %d times matches no ledger row", id, count)
		}
		h := hist[row.PersonID]
		if h == nil || !h.unknown || !h.resent {
			t.Fatalf("person %d received %d messages but the ledger does not show unknown then resent", row.PersonID, count)
		}
		extra += count - 1
	}
	if extra > inFlight {
		t.Fatalf("%d duplicate messages, more than the %d rows in flight at the kills", extra, inFlight)
	}
	t.Logf("rows in flight at the kills (unknown, then resent): %d; messages received twice: %d", inFlight, extra)
}

// peek reads the status without failing the test on a transient error.
func (v *sendEnv) peek() (st struct {
	Counts breach.DeliveryCounts `json:"counts"`
	Send   *breach.Send          `json:"send"`
}) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = v.as("auditor").Do(ctx, "GET", v.path("people", "status"), nil, &st)
	return st
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
