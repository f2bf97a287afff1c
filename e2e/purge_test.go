package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/smtptest"
	"github.com/breach-engine/breach/workflows"
)

// TestCloseThenPurgeAfterRetention runs the end of an incident on the real
// stack: people imported and told, the incident closed by the DPO, and, the
// retention period later (a few seconds here), the workflow's durable timer
// fires and the purge destroys the contact data. The incident shows its
// purge date and then the purge; the ledger's counts stay; the audit chain
// still verifies (what `breach audit verify` checks).
func TestCloseThenPurgeAfterRetention(t *testing.T) {
	const n = 40
	const retention = 4 * time.Second
	ctx := context.Background()
	sink := smtptest.Start(t, smtptest.Options{})
	v := newSendEnv(t, sink, 1)
	// The retention period goes into the workflow's parameters when the
	// incident opens: open it through a Service that carries it.
	v.engine.RetentionAfterClose = retention
	svc := v.engine.App()
	in := motivatingIncident(time.Now())
	in.Reference = fmt.Sprintf("purge-%d", time.Now().UnixNano())
	inc, _, err := svc.OpenIncident(ctx, v.users["dpo"].Actor(), in)
	if err != nil {
		t.Fatal(err)
	}
	v.incident = inc.ID
	var assessed activities.AssessResult
	v.do("dpo", "POST", v.path("assessment"), workflows.AssessUpdate{Reason: "health data, malicious"}, &assessed)
	var file bytes.Buffer
	if err := people.Generate(&file, n, 11, people.CSV); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.ImportPeople(ctx, v.users["dpo"].Actor(), inc.ID, &file, app.ImportPeopleInput{}); err != nil || res.Loaded != n {
		t.Fatalf("import: %+v %v", res, err)
	}
	v.approveLetters()
	v.startSend(workflows.SendOptions{Partitions: 2, BatchSize: 10})
	status := v.waitDone(2 * time.Minute)
	if status.Counts.Sent != n {
		t.Fatalf("sent %+v", status.Counts)
	}
	v.recipients(n) // readable until the purge

	v.do("dpo", "POST", v.path("close"), workflows.CloseUpdate{Summary: "contained; everyone told"}, nil)
	var view app.IncidentView
	v.do("auditor", "GET", "/api/v1/incidents/"+inc.ID, nil, &view)
	if view.Incident.ClosedAt == nil || view.Purge.DueAt == nil || view.Purge.PurgedAt != nil ||
		!view.Purge.DueAt.Equal(view.Incident.ClosedAt.Add(retention)) {
		t.Fatalf("purge state after closing: %+v (closed at %v)", view.Purge, view.Incident.ClosedAt)
	}
	// Within the retention period the data is still there.
	v.recipients(n)

	deadline := time.Now().Add(time.Minute)
	for view.Purge.PurgedAt == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no purge a minute after its date: %+v", view.Purge)
		}
		time.Sleep(250 * time.Millisecond)
		v.do("auditor", "GET", "/api/v1/incidents/"+inc.ID, nil, &view)
	}
	if view.Purge.PurgedAt.Before(*view.Purge.DueAt) {
		t.Fatalf("purged at %v, before its date %v", view.Purge.PurgedAt, view.Purge.DueAt)
	}
	if rs, err := v.store.Recipients(ctx, v.vault, inc.ID, 1, n); err != nil || len(rs) != 0 {
		t.Fatalf("recipients after the purge: %d %v", len(rs), err)
	}
	if c, err := v.store.DeliveryCounts(ctx, inc.ID); err != nil || c.Sent != n {
		t.Fatalf("delivery counts after the purge: %+v %v", c, err)
	}
	actions := v.auditActions(inc.ID)
	if i := slices.Index(actions, "people.purged"); i < 0 || i < slices.Index(actions, "incident.closed") {
		t.Fatalf("audit: %v", actions)
	}
	if vr, err := v.store.VerifyAudit(ctx); err != nil || !vr.OK {
		t.Fatalf("audit verify after the purge: %+v %v", vr, err)
	}
	// The workflow ended after the purge.
	run := v.engine.Temporal.GetWorkflow(ctx, breach.WorkflowID(inc.ID), "")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run.Get(wctx, nil); err != nil {
		t.Fatalf("incident workflow: %v", err)
	}
}
