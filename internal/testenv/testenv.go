// Package testenv is the one test-environment helper for the packages whose
// tests need a live Temporal server. Linking the embedded server makes a test
// binary slow to build, so only those few packages import this one; workflow
// unit tests use the SDK's test suite instead.
//
// Usage:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := testenv.Client(t, testenv.DataConverter(t))
//		q := testenv.TaskQueue(t)
//		testenv.Worker(t, c, q, func(r worker.Registry) { r.RegisterWorkflow(...) })
//		...
//	}
//
// One in-memory server is started per test binary, on first use, and shared by
// every test (use a fresh task queue and workflow IDs per test). Set
// TEST_TEMPORAL_LOG=1 to see the server's and the SDK's warnings.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/devserver"
	"github.com/breach-engine/breach/internal/temporalclient"
)

// Namespace is the namespace the shared server registers.
const Namespace = "default"

var (
	once     sync.Once
	shared   *devserver.Temporal
	startErr error
)

// Temporal returns the test binary's embedded Temporal server, starting it on
// first use. Its state lives in memory and disappears with the process.
func Temporal(t testing.TB) *devserver.Temporal {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		shared, startErr = devserver.StartTemporal(ctx, devserver.TemporalConfig{
			Namespace: Namespace,
			Logger:    Logger(),
		})
		if startErr == nil && os.Getenv("TEST_TEMPORAL_LOG") != "" {
			fmt.Fprintf(os.Stderr, "testenv: temporal server at %s started in %s\n", shared.HostPort(), time.Since(start).Round(time.Millisecond))
		}
	})
	if startErr != nil {
		t.Fatalf("testenv: start the embedded Temporal server: %v", startErr)
	}
	return shared
}

// Main runs the tests and then stops the shared server, if one was started.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared server, if one was started; for a TestMain that has
// other cleanups to run (pgtest.Main(m, testenv.Stop)).
func Stop() {
	if shared != nil {
		_ = shared.Stop()
	}
}

// Logger is where the server and the SDK log in tests: nowhere, unless
// TEST_TEMPORAL_LOG is set (then warnings and errors go to stderr). Tests'
// own t.Log cannot be used: the server outlives every test.
func Logger() *slog.Logger {
	if os.Getenv("TEST_TEMPORAL_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Codec returns a payload codec with a fresh random key.
func Codec(t testing.TB) *codec.Codec {
	t.Helper()
	c, err := codec.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DataConverter returns the encrypting data converter over a fresh key, as
// production processes use.
func DataConverter(t testing.TB) converter.DataConverter {
	return codec.NewDataConverter(Codec(t))
}

// Client dials the shared server through temporalclient.Dial with dc (pass
// converter.GetDefaultDataConverter() explicitly to read payloads as stored,
// without the codec) and closes the client when the test ends.
func Client(t testing.TB, dc converter.DataConverter) client.Client {
	t.Helper()
	srv := Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := temporalclient.Dial(ctx, temporalclient.Options{
		Address:       srv.HostPort(),
		Namespace:     srv.Namespace(),
		DataConverter: dc,
		Logger:        Logger(),
		Identity:      "testenv:" + t.Name(),
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// TaskQueue returns a task queue name of the test's own, so that tests sharing
// the server do not steal each other's tasks.
func TaskQueue(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("test-%s-%d", name, time.Now().UnixNano())
}

// Worker starts a worker on the task queue with what register registers, and
// stops it when the test ends.
func Worker(t testing.TB, c client.Client, taskQueue string, register func(worker.Registry)) worker.Worker {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	register(w)
	if err := w.Start(); err != nil {
		t.Fatalf("testenv: start worker on %s: %v", taskQueue, err)
	}
	t.Cleanup(w.Stop)
	return w
}

// History returns a workflow run's whole history as the server stores it: the
// events in protobuf binary form, one after the other, payloads not decoded.
// Payload bytes appear as they are (not base64), so a test can search the
// result for personal data with bytes.Contains and trust a miss. runID ""
// means the latest run.
func History(t testing.TB, c client.Client, workflowID, runID string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []byte
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("testenv: history of %s: %v", workflowID, err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	if len(out) == 0 {
		t.Fatalf("testenv: history of %s is empty", workflowID)
	}
	return out
}
