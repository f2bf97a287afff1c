package record

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/devserver"
	"github.com/breach-engine/breach/workflows"
)

var record = flag.Bool("record", false, "record the replay histories into workflows/testdata")

// testdata is where package workflows' replay tests read the histories.
const testdata = "../../testdata"

// History files, one per workflow type and regime.
const (
	IncidentHistory = "incident.json"
	GDPRHistory     = "regime_gdpr.json"
	NIS2History     = "regime_nis2.json"
)

// Synthetic accounts and incident: IDs only.
var (
	dpo       = breach.Actor{UserID: "u-dpo-1", Role: breach.RoleDPO}
	approverA = breach.Actor{UserID: "u-approver-1", Role: breach.RoleApprover}
	approverB = breach.Actor{UserID: "u-approver-2", Role: breach.RoleApprover}
)

const incidentID = "rec-incident-1"

// standIns replace the activities under their registered names: they keep
// draft versions in memory so that the workflows run end to end.
type standIns struct {
	mu       sync.Mutex
	versions map[breach.DraftKey]int
	n        int
}

func (s *standIns) next(prefix string) string {
	s.n++
	return fmt.Sprintf("%s-%d", prefix, s.n)
}

func (s *standIns) register(w worker.Worker) {
	reg := func(fn any, name string) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(func(ctx context.Context, in activities.AssessInput) (activities.AssessResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		decided := breach.RiskSome
		if in.Risk != nil {
			decided = *in.Risk
		}
		return activities.AssessResult{AssessmentID: s.next("assessment"), Proposed: breach.RiskSome, Decided: decided,
			NotifySA: decided != breach.RiskNone, NotifySubjects: decided == breach.RiskHigh}, nil
	}, "RecordAssessment")
	reg(func(ctx context.Context, in activities.ChangeAwareAtInput) error { return nil }, "ChangeAwareAt")
	reg(func(ctx context.Context, in activities.SaveDraftInput) (activities.DraftRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.versions[in.Key]++
		v := s.versions[in.Key]
		return activities.DraftRef{
			ID: s.next("draft"), Key: in.Key, Version: v, DraftedBy: in.DraftedBy, EditedBy: in.Actor.UserID,
			ContentHash: fmt.Sprintf("%064d", v), HasDelayReasons: in.Fields.DelayReasons != "",
		}, nil
	}, "SaveDraft")
	reg(func(ctx context.Context, in activities.DecideDraftInput) error { return nil }, "DecideDraft")
	reg(func(ctx context.Context, in activities.FilingInput) (string, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.next("filing"), nil
	}, "RecordFiling")
	reg(func(ctx context.Context, in activities.AlarmInput) error { return nil }, "RecordAlarm")
	reg(func(ctx context.Context, in activities.CloseInput) error { return nil }, "CloseIncident")
}

// TestRecordHistories runs an incident with GDPR and NIS2 through assessment,
// a move of aware_at, reminders and escalations, drafts returned and approved
// under four-eyes, late filings with reasons, a complementary filing and the
// close, then writes the three histories.
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -args -record to record the replay histories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.StartTemporal(ctx, devserver.TemporalConfig{Namespace: "breach-record"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	quiet := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := client.Dial(client.Options{HostPort: srv.HostPort(), Namespace: srv.Namespace(), Identity: "breach-record", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, workflows.TaskQueue, worker.Options{Identity: "breach-record"})
	workflows.Register(w)
	(&standIns{versions: map[breach.DraftKey]int{}}).register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// The 72 h deadlines fall a few seconds ahead so that reminders (5 s
	// before) and escalations fire while we watch; the NIS2 early warning
	// (24 h) is long past and escalates at once.
	now := time.Now().UTC().Truncate(time.Second)
	aware := now.Add(-72*time.Hour + 10*time.Second)
	params := workflows.IncidentParams{
		IncidentID:      incidentID,
		DetectedAt:      aware.Add(-time.Hour),
		AwareAt:         aware,
		Regimes:         []breach.RegimeCode{breach.RegimeNIS2},
		ReminderOffsets: []time.Duration{5 * time.Second},
	}
	incWF := breach.WorkflowID(incidentID)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: incWF, TaskQueue: workflows.TaskQueue}, workflows.IncidentWorkflowName, params)
	if err != nil {
		t.Fatal(err)
	}
	gdprWF := breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR)
	nis2WF := breach.RegimeWorkflowID(incidentID, breach.RegimeNIS2)

	update := func(wf, name string, arg, out any) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: wf, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return err
		}
		return h.Get(ctx, out)
	}
	must := func(wf, name string, arg any) {
		t.Helper()
		if err := update(wf, name, arg, nil); err != nil {
			t.Fatalf("%s on %s: %v", name, wf, err)
		}
	}
	refused := func(wf, name string, arg any) {
		t.Helper()
		if err := update(wf, name, arg, nil); err == nil {
			t.Fatalf("%s on %s: accepted, want rejected", name, wf)
		}
	}
	fields := func(reasons string) breach.DraftFields {
		return breach.DraftFields{Language: breach.French, Nature: "synthetic nature", Consequences: "synthetic consequences",
			MeasuresTaken: "synthetic measures", MeasuresProposed: "synthetic proposals", DelayReasons: reasons}
	}

	must(incWF, workflows.UpdateAssess, workflows.AssessUpdate{Actor: dpo, Reason: "synthetic: proposal confirmed"})
	must(incWF, workflows.UpdateChangeAwareAt, workflows.ChangeAwareAtUpdate{Actor: dpo, AwareAt: aware.Add(-2 * time.Second), Reason: "synthetic: earlier log entry"})

	// GDPR initial: drafted, returned, redrafted, approved by another person.
	must(gdprWF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageInitial, Fields: fields("")})
	refused(gdprWF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: breach.Actor{UserID: dpo.UserID, Role: breach.RoleApprover}, Stage: breach.StageInitial, Version: 1, Approve: true})
	must(gdprWF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverA, Stage: breach.StageInitial, Version: 1, Comment: "synthetic: add the measures"})
	must(gdprWF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageInitial, BaseVersion: 1, Fields: fields("synthetic reasons for delay")})
	must(gdprWF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverA, Stage: breach.StageInitial, Version: 2, Approve: true, Comment: "ok"})

	// NIS2 early warning, overdue: reasons in the filing.
	must(nis2WF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: approverB, Stage: breach.StageEarlyWarning, Fields: fields("synthetic reasons for delay")})
	must(nis2WF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverA, Stage: breach.StageEarlyWarning, Version: 1, Approve: true})
	must(nis2WF, workflows.UpdateRecordFiling, workflows.RecordFilingUpdate{Actor: dpo, Stage: breach.StageEarlyWarning, FiledAt: time.Now().UTC(), Channel: "anssi_portal", Reference: "SYNTH-NIS2-1"})
	must(nis2WF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageNotification, Fields: fields("")})

	// Let the 72 h reminders and escalations fire.
	time.Sleep(time.Until(aware.Add(72*time.Hour + 3*time.Second)))

	refused(nis2WF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverA, Stage: breach.StageNotification, Version: 1, Approve: true})
	must(nis2WF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageNotification, BaseVersion: 1, Fields: fields("synthetic reasons for delay")})
	must(nis2WF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverB, Stage: breach.StageNotification, Version: 2, Approve: true})
	must(nis2WF, workflows.UpdateRecordFiling, workflows.RecordFilingUpdate{Actor: dpo, Stage: breach.StageNotification, FiledAt: time.Now().UTC(), Channel: "anssi_portal", Reference: "SYNTH-NIS2-2"})
	must(nis2WF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageFinalReport, Fields: fields("")})

	refused(gdprWF, workflows.UpdateRecordFiling, workflows.RecordFilingUpdate{Actor: dpo, Stage: breach.StageInitial, FiledAt: time.Now().UTC(), Channel: "cnil_online"})
	must(gdprWF, workflows.UpdateRecordFiling, workflows.RecordFilingUpdate{Actor: dpo, Stage: breach.StageInitial, FiledAt: time.Now().UTC(), Channel: "cnil_online", Reference: "SYNTH-CNIL-1"})
	// Art. 33(4): a complementary filing.
	must(gdprWF, workflows.UpdateSaveDraft, workflows.SaveDraftUpdate{Actor: dpo, Stage: breach.StageComplementary, Fields: fields("")})
	must(gdprWF, workflows.UpdateDecideDraft, workflows.DecideDraftUpdate{Actor: approverB, Stage: breach.StageComplementary, Seq: 1, Version: 1, Approve: true})
	must(gdprWF, workflows.UpdateRecordFiling, workflows.RecordFilingUpdate{Actor: dpo, Stage: breach.StageComplementary, Seq: 1, FiledAt: time.Now().UTC(), Channel: "cnil_online", Reference: "SYNTH-CNIL-2"})

	var view workflows.IncidentView
	if v, err := c.QueryWorkflow(ctx, incWF, "", workflows.QueryState); err != nil {
		t.Fatal(err)
	} else if err := v.Get(&view); err != nil {
		t.Fatal(err)
	}
	if !view.AwareAt.Equal(aware.Add(-2*time.Second)) || view.Assessment == nil {
		t.Fatalf("incident view %+v", view)
	}

	must(incWF, workflows.UpdateClose, workflows.CloseUpdate{Actor: dpo, Summary: "synthetic closing summary"})
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}

	for file, wf := range map[string]string{IncidentHistory: incWF, GDPRHistory: gdprWF, NIS2History: nis2WF} {
		hist := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, wf, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(testdata, file)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		// The history just written must replay.
		replayer := worker.NewWorkflowReplayer()
		workflows.Register(replayer)
		if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, path); err != nil {
			t.Fatalf("replay %s: %v", file, err)
		}
		t.Logf("%s: %d events", path, len(hist.Events))
	}
}
