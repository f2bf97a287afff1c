package devserver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func echo(ctx workflow.Context, s string) (string, error) { return "echo:" + s, nil }

// TestStartTemporalRunsWorkflowAndKeepsState starts the embedded server on a
// SQLite file, runs a workflow through it, restarts it on the same file and
// finds the workflow's result still there.
func TestStartTemporalRunsWorkflowAndKeepsState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	file := filepath.Join(t.TempDir(), "temporal.db")

	srv, err := StartTemporal(ctx, TemporalConfig{DatabaseFile: file, Namespace: "breach-test"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace(), Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, "q", worker.Options{})
	w.RegisterWorkflowWithOptions(echo, workflow.RegisterOptions{Name: "echo"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-1", TaskQueue: "q"}, "echo", "hi")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "echo:hi" {
		t.Fatalf("result %q, %v", got, err)
	}
	w.Stop()
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, err = StartTemporal(ctx, TemporalConfig{DatabaseFile: file, Namespace: "breach-test"})
	if err != nil {
		t.Fatalf("restart on the same file: %v", err)
	}
	defer srv.Stop()
	c, err = client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace(), Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got = ""
	if err := c.GetWorkflow(ctx, "wf-1", "").Get(ctx, &got); err != nil || got != "echo:hi" {
		t.Fatalf("after restart: result %q, %v", got, err)
	}
}
