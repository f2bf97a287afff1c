package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/temporalclient"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/webhook"
	"github.com/breach-engine/breach/workflows"
)

// idpReceiver is the organisation's side of the webhook connector, on
// loopback: it verifies each request's signature, applies each account's
// action at most once per idempotency key, and counts the deliveries of the
// same key separately (a batch retried after a kill sends its keys again).
type idpReceiver struct {
	srv        *httptest.Server
	secret     []byte
	mu         sync.Mutex
	applied    map[string]int // action "|" key -> times applied (must end at 1)
	deliveries map[string]int // action "|" key -> times received
	resets     atomic.Int64   // force_reset keys applied
	badSig     atomic.Int64
}

func newIDPReceiver(t *testing.T, secret []byte) *idpReceiver {
	rc := &idpReceiver{secret: secret, applied: map[string]int{}, deliveries: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if _, err := webhook.VerifyAny([][]byte{rc.secret}, r.Header.Get(webhook.Header), body, time.Now(), 0); err != nil {
			rc.badSig.Add(1)
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		var req struct {
			Action   string        `json:"action"`
			Accounts []idp.Account `json:"accounts"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "json", http.StatusBadRequest)
			return
		}
		if req.Action == "force_reset" {
			// A provider takes its time: a kill may fall while a batch
			// waits for the answer, after the provider applied it.
			time.Sleep(30 * time.Millisecond)
		}
		type result struct {
			Key    string `json:"key"`
			Result string `json:"result,omitempty"`
			State  string `json:"state,omitempty"`
		}
		results := make([]result, 0, len(req.Accounts))
		rc.mu.Lock()
		for _, a := range req.Accounts {
			switch req.Action {
			case "force_reset", "revoke_sessions":
				k := req.Action + "|" + a.Key
				rc.deliveries[k]++
				if rc.applied[k] == 0 {
					rc.applied[k] = 1
					if req.Action == "force_reset" {
						rc.resets.Add(1)
					}
				}
				results = append(results, result{Key: a.Key, Result: "done"})
			case "status":
				results = append(results, result{Key: a.Key, State: "pending"})
			}
		}
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// checkMonitoringFollowsTheReset checks the wiring of the follow-up on the
// real worker process: the incident's workflow started the Monitoring child
// when the reset started, it survived the kills, and closing the incident
// ends it with a final report stored.
func checkMonitoringFollowsTheReset(t *testing.T, v *env, tc client.Client, incident string) {
	t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := breach.MonitoringWorkflowID(incident)
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatalf("the monitoring workflow after the reset: %v", err)
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || info.GetParentExecution().GetWorkflowId() != breach.WorkflowID(incident) {
		t.Fatalf("monitoring %s, parent %q: want running, started by the incident's workflow", info.GetStatus(), info.GetParentExecution().GetWorkflowId())
	}
	v.do("dpo", "POST", "/api/v1/incidents/"+incident+"/close", workflows.CloseUpdate{Summary: "passwords reset; monitoring ended at closure"}, nil)
	if err := tc.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatalf("the monitoring after the incident closed: %v", err)
	}
	if d, err = tc.DescribeWorkflowExecution(ctx, id, ""); err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("monitoring after closure: %v %v, want completed", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	var reports []breach.MonitoringReport
	v.do("auditor", "GET", "/api/v1/incidents/"+incident+"/monitoring/reports", nil, &reports)
	if len(reports) != 1 || !reports[0].Final || !reports[0].Summary.EndedEarly || reports[0].Summary.Resets.Done == 0 {
		t.Fatalf("reports after closure: %+v, want one final report", reports)
	}
	t.Logf("monitoring: started with the reset, ended at closure with its final report (%s)", time.Since(began).Round(time.Millisecond))
}

// TestResetSurvivesWorkerKills resets BREACH_RESET_CRASH_N accounts (default
// 100,000) through the webhook connector, with the worker a separate
// `breach worker` process SIGKILLed twice mid-way and restarted. At the end
// every account is done, and the identity provider applied each account's
// reset and session revocation exactly once (repeated deliveries of a key,
// from batches cut by the kills, are counted and logged).
func TestResetSurvivesWorkerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a long reset")
	}
	n := 100_000
	if s := os.Getenv("BREACH_RESET_CRASH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			t.Fatalf("BREACH_RESET_CRASH_N=%q: want a number >= 1000", s)
		}
		n = v
	}
	began := time.Now()
	dir := t.TempDir()
	bin := buildBreach(t, dir)
	idpSecret := []byte("the organisation's webhook secret, synthetic")
	rc := newIDPReceiver(t, idpSecret)

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
		DataConverter: engine.DataConverter(cdc), Logger: testenv.Logger(), Identity: "reset-crash-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	queue := testenv.TaskQueue(t)
	e := &engine.Engine{Store: st, Temporal: tc, Codec: cdc, TaskQueue: queue,
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), Vault: vlt}
	hs := httptest.NewServer(e.Handler())
	t.Cleanup(hs.Close)
	v := &sendEnv{env: &env{t: t, store: st, engine: e, baseURL: hs.URL, tokens: map[string]string{}, users: map[string]store.User{}},
		vault: vlt, dataKey: dataKey}
	for _, u := range []struct {
		name string
		role breach.Role
	}{{"dpo", breach.RoleDPO}, {"auditor", breach.RoleAuditor}} {
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
	workerEnv := []string{
		"BREACH_DATABASE_URL=" + dbURL, "BREACH_PAYLOAD_KEY=" + payloadKey, "BREACH_DATA_KEY=" + dataKey,
		"BREACH_TEMPORAL_ADDRESS=" + srv.HostPort(), "BREACH_TEMPORAL_NAMESPACE=" + srv.Namespace(), "BREACH_TASK_QUEUE=" + queue,
		"BREACH_LOG_LEVEL=warn", "ACME_IDP_SECRET=" + string(idpSecret),
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

	v.openIncident(n, 23)
	cfg := &idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: rc.srv.URL + "/breach/accounts", Secret: "env:ACME_IDP_SECRET"}}
	// The reset alone takes about 12 s at this rate, so that the kills fall
	// in it; batches continue as new every 10 batches.
	rate := float64(n) / 12
	start := time.Now()
	var started workflows.CredentialsView
	v.do("dpo", "POST", v.path("accounts", "reset"), workflows.StartResetUpdate{Config: cfg, Options: workflows.ResetOptions{
		Partitions: 8, BatchSize: 500, BatchesPerRun: 10, Chunk: 250, Rate: rate,
		Lease: 8 * time.Second, HeartbeatTimeout: 3 * time.Second,
	}}, &started)
	total := started.Accounts
	if started.Phase != breach.TrackRunning || total < int64(n)*9/10 || started.StartedAt == nil {
		t.Fatalf("started %+v", started)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for kill, lo := range []float64{0.15, 0.5} {
		threshold := int64(float64(total) * (lo + 0.2*rng.Float64()))
		deadline := time.Now().Add(time.Minute)
		for rc.resets.Load() < threshold {
			if time.Now().After(deadline) {
				t.Fatalf("no progress before kill %d: %d resets applied", kill+1, rc.resets.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
		w.kill()
		t.Logf("kill %d at %s: %d of %d resets applied", kill+1, time.Since(start).Round(time.Millisecond), rc.resets.Load(), total)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		w = startWorker(t, bin, workerEnv, logPath)
	}

	var status app.AccountsStatus
	deadline := time.Now().Add(3 * time.Minute)
	for {
		v.do("auditor", "GET", v.path("accounts", "status"), nil, &status)
		if status.Track != nil && status.Track.State == breach.TrackPolling {
			break
		}
		if status.Track != nil && status.Track.State == breach.TrackPaused {
			t.Fatalf("the track paused: %q", status.Track.LastError)
		}
		if time.Now().After(deadline) {
			t.Fatalf("reset not done: %+v", status.Counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)

	c := status.Counts
	if c.Done != total || c.Pending+c.Running+c.Failed != 0 {
		t.Fatalf("counts %+v, want %d done", c, total)
	}
	if counted, err := st.CountResets(ctx, v.incident); err != nil || counted != c {
		t.Fatalf("COUNT %+v, counters %+v (%v)", counted, c, err)
	}
	rows, err := st.ResetRows(ctx, v.incident, 1, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	checkMonitoringFollowsTheReset(t, v.env, tc, v.incident)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	repeated := 0
	for _, r := range rows {
		for _, action := range []string{"force_reset", "revoke_sessions"} {
			k := action + "|" + fmt.Sprintf("%s/%d/%s", v.incident, r.PersonID, action)
			if rc.applied[k] != 1 {
				t.Fatalf("person %d: %s applied %d times at the provider", r.PersonID, action, rc.applied[k])
			}
			repeated += rc.deliveries[k] - 1
		}
	}
	if len(rc.applied) != 2*len(rows) || int64(len(rows)) != total {
		t.Fatalf("%d keys applied at the provider for %d rows (%d accounts)", len(rc.applied), len(rows), total)
	}
	if rc.badSig.Load() != 0 {
		t.Fatalf("%d requests with a bad signature", rc.badSig.Load())
	}
	t.Logf("%d accounts, 2 kills: reset in %s (test %s); every reset and revocation applied once; %d repeated deliveries of a key (batches cut by the kills, retried)",
		total, elapsed.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), repeated)
}
