package testenv_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func greet(ctx workflow.Context, name string) (string, error) {
	return "Bonjour " + name, nil
}

// run executes greet("Alice Martin") through a client with dc and returns the
// raw history.
func run(t *testing.T, dc converter.DataConverter) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := testenv.Client(t, dc)
	q := testenv.TaskQueue(t)
	testenv.Worker(t, c, q, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(greet, workflow.RegisterOptions{Name: "greet"})
	})
	wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet-" + q, TaskQueue: q}, "greet", "Alice Martin")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := wr.Get(ctx, &got); err != nil || got != "Bonjour Alice Martin" {
		t.Fatalf("result %q, %v", got, err)
	}
	return testenv.History(t, testenv.Client(t, converter.GetDefaultDataConverter()), wr.GetID(), "")
}

// TestWorkflowRunsEncrypted runs a trivial workflow on the shared server with
// the encrypting converter and finds neither its input nor its result in the
// raw history.
func TestWorkflowRunsEncrypted(t *testing.T) {
	raw := run(t, testenv.DataConverter(t))
	for _, s := range []string{"Alice Martin", "Bonjour"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("raw history holds %q", s)
		}
	}
	if !bytes.Contains(raw, []byte(codec.EncodingEncrypted)) {
		t.Error("raw history holds no encrypted payload")
	}
}

// TestHistoryShowsPlainPayloads is the control: without the codec, History
// does show the values, so a miss above means something.
func TestHistoryShowsPlainPayloads(t *testing.T) {
	raw := run(t, converter.GetDefaultDataConverter())
	for _, s := range []string{`"Alice Martin"`, `"Bonjour Alice Martin"`} {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("raw history of a plain run lacks %s", s)
		}
	}
}

// TestServerIsShared checks that tests reuse one server.
func TestServerIsShared(t *testing.T) {
	if testenv.Temporal(t) != testenv.Temporal(t) {
		t.Fatal("two servers")
	}
	if testenv.Temporal(t).Namespace() != testenv.Namespace {
		t.Fatal("namespace")
	}
}
