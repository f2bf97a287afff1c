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
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/devserver"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/workflows"
)

var record = flag.Bool("record", false, "record the replay histories into workflows/testdata")

// testdata is where package workflows' replay tests read the histories.
const testdata = "../../testdata"

// History files, one per workflow type and regime; the partition's first
// run (which continued as new) and its last run.
const (
	IncidentHistory       = "incident.json"
	GDPRHistory           = "regime_gdpr.json"
	NIS2History           = "regime_nis2.json"
	PeopleHistory         = "people.json"
	PartitionFirstHistory = "partition_first_run.json"
	PartitionLastHistory  = "partition_last_run.json"
)

// Synthetic accounts and incident: IDs only.
var (
	dpo       = breach.Actor{UserID: "u-dpo-1", Role: breach.RoleDPO}
	approverA = breach.Actor{UserID: "u-approver-1", Role: breach.RoleApprover}
	approverB = breach.Actor{UserID: "u-approver-2", Role: breach.RoleApprover}
)

const incidentID = "rec-incident-1"

// standIns replace the activities under their registered names: they keep
// draft and letter versions and a small ledger in memory so that the
// workflows run end to end.
type standIns struct {
	mu       sync.Mutex
	versions map[breach.DraftKey]int
	letters  map[breach.Language]int
	sent     map[int64]bool // the ledger: people sent
	deferred map[int64]bool // people refused for now once
	reports  int
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
	reg(func(ctx context.Context, in activities.CloseInput) (activities.CloseResult, error) {
		return activities.CloseResult{}, nil
	}, "CloseIncident")
	reg(func(ctx context.Context, in activities.PurgeInput) (activities.PurgeResult, error) {
		return activities.PurgeResult{}, nil
	}, "PurgePeople")
	// The follow-up monitoring: no signal crosses a threshold, reports are
	// numbered in memory.
	reg(func(ctx context.Context, in activities.EvaluateSignalsInput) ([]breach.Crossing, error) {
		return nil, nil
	},
		"EvaluateSignals")
	reg(func(ctx context.Context, in activities.ReportInput) (activities.ReportRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reports++
		return activities.ReportRef{ID: s.next("report"), Seq: s.reports, Final: in.Final,
			ContentHash: fmt.Sprintf("%064d", s.reports), Mailed: true}, nil
	}, "WriteReport")
	reg(func(ctx context.Context, in activities.SaveLetterInput) (activities.LetterRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.letters[in.Language]++
		v := s.letters[in.Language]
		return activities.LetterRef{ID: s.next("letter"), Language: in.Language, Version: v, DraftedBy: dpo.UserID,
			EditedBy: in.Actor.UserID, ContentHash: fmt.Sprintf("%063d%d", v, len(in.Language))}, nil
	}, "SaveLetter")
	reg(func(ctx context.Context, in activities.DecideLetterInput) error { return nil }, "DecideLetter")
	reg(func(ctx context.Context, in activities.SendFactsInput) (breach.SendFacts, error) {
		return breach.SendFacts{IncidentState: breach.StateAssessed, People: recPeople, MinPerson: 1, MaxPerson: recPeople,
			Languages: []breach.LanguageCount{{Language: breach.French, People: recPeople - 50}, {Language: breach.English, People: 50}},
			Risk:      breach.RiskHigh, NotifySubjects: true}, nil
	}, "SendFacts")
	reg(func(ctx context.Context, in activities.StartSendInput) (activities.SendRef, error) {
		return activities.SendRef{ID: "00000000-0000-4000-8000-000000000001", Seq: 1, People: recPeople, MinPerson: 1, MaxPerson: recPeople,
			Letters: in.Letters, Policy: in.Policy, Partitions: in.Partitions}, nil
	}, "StartSend")
	reg(func(ctx context.Context, in activities.SendStateInput) error { return nil }, "SetSendState")
}

// recPeople is the synthetic population of the recorded send.
const recPeople = 1000

// registerDelivery registers the sending stand-ins on the delivery worker.
func (s *standIns) registerDelivery(w worker.Worker) {
	reg := func(fn any, name string) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(func(ctx context.Context, in activities.SeedInput) (int64, error) { return in.To - in.From + 1, nil }, "SeedLedger")
	reg(func(ctx context.Context, in activities.SendBatchInput) (activities.SendBatchResult, error) {
		time.Sleep(50 * time.Millisecond) // time to pause and resume while batches run
		s.mu.Lock()
		defer s.mu.Unlock()
		res := activities.SendBatchResult{Next: in.Cursor}
		n := 0
		for id := max(in.Cursor, in.From); id <= in.To && n < in.Limit; id++ {
			if s.sent[id] {
				continue
			}
			n++
			res.Claimed++
			// Every 50th person is refused for now on the first try.
			if id%50 == 0 && !s.deferred[id] {
				s.deferred[id] = true
				res.Deferred++
			} else {
				s.sent[id] = true
				res.Sent++
			}
			res.Next = id + 1
		}
		if n < in.Limit {
			res.Next = in.To + 1
		}
		if res.Next > in.To {
			for id := in.From; id <= in.To; id++ {
				if !s.sent[id] {
					res.Open++
				}
			}
			if res.Open > 0 {
				wake := time.Now().Add(time.Second)
				res.WakeAt = &wake
			}
		}
		return res, nil
	}, "SendBatch")
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
	si := &standIns{versions: map[breach.DraftKey]int{}, letters: map[breach.Language]int{}, sent: map[int64]bool{}, deferred: map[int64]bool{}}
	si.register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	dw := worker.New(c, workflows.DeliveryTaskQueue(workflows.TaskQueue), worker.Options{Identity: "breach-record", DisableWorkflowWorker: true})
	si.registerDelivery(dw)
	if err := dw.Start(); err != nil {
		t.Fatal(err)
	}
	defer dw.Stop()

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
		// The purge two seconds after the closure: the history ends with it.
		RetentionAfterClose: 2 * time.Second,
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

	// The people track: letters in both languages under four-eyes, then a
	// send over two partitions that continue as new every 3 batches, paused
	// and resumed, with refusals for now taken by a second pass.
	peopleWF := breach.PeopleWorkflowID(incidentID)
	letter := func(lang breach.Language, advice string) breach.LetterFields {
		return breach.LetterFields{Language: lang, Subject: "Synthetic subject", WhatHappened: "Synthetic nature.",
			Consequences: "Synthetic consequences.", MeasuresTaken: "Synthetic measures.", PasswordReset: true, Advice: advice}
	}
	refused(peopleWF, workflows.UpdateStartSend, workflows.StartSendUpdate{Actor: dpo})
	must(peopleWF, workflows.UpdateSaveLetter, workflows.SaveLetterUpdate{Actor: dpo, Language: breach.French, Fields: letter(breach.French, "")})
	refused(peopleWF, workflows.UpdateDecideLetter, workflows.DecideLetterUpdate{Actor: breach.Actor{UserID: dpo.UserID, Role: breach.RoleApprover}, Language: breach.French, Version: 1, Approve: true})
	must(peopleWF, workflows.UpdateDecideLetter, workflows.DecideLetterUpdate{Actor: approverA, Language: breach.French, Version: 1, Approve: true})
	must(peopleWF, workflows.UpdateSaveLetter, workflows.SaveLetterUpdate{Actor: dpo, Language: breach.English, Fields: letter(breach.English, "")})
	must(peopleWF, workflows.UpdateDecideLetter, workflows.DecideLetterUpdate{Actor: approverB, Language: breach.English, Version: 1, Comment: "synthetic: plainer words"})
	must(peopleWF, workflows.UpdateSaveLetter, workflows.SaveLetterUpdate{Actor: dpo, Language: breach.English, BaseVersion: 1, Fields: letter(breach.English, "Synthetic advice.")})
	must(peopleWF, workflows.UpdateDecideLetter, workflows.DecideLetterUpdate{Actor: approverB, Language: breach.English, Version: 2, Approve: true})
	must(peopleWF, workflows.UpdateStartSend, workflows.StartSendUpdate{Actor: dpo, Options: workflows.SendOptions{
		Partitions: 2, BatchSize: 120, BatchesPerRun: 3, Lease: 4 * time.Second, HeartbeatTimeout: 2 * time.Second}})
	time.Sleep(150 * time.Millisecond)
	must(peopleWF, workflows.UpdatePauseSend, workflows.SendControlUpdate{Actor: dpo, Reason: "synthetic: relay maintenance"})
	time.Sleep(300 * time.Millisecond)
	must(peopleWF, workflows.UpdateResumeSend, workflows.SendControlUpdate{Actor: dpo})
	for {
		var pv workflows.PeopleView
		v, err := c.QueryWorkflow(ctx, peopleWF, "", workflows.QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&pv); err != nil {
			t.Fatal(err)
		}
		if pv.Send != nil && pv.Send.State == breach.SendCompleted {
			if pv.Send.Runs < 4 || pv.Send.Totals.Deferred == 0 {
				t.Fatalf("send %+v: no continue-as-new or no second pass", pv.Send)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

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

	readHistory := func(wf, runID string) *historypb.History {
		hist := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, wf, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		return hist
	}
	// The partition's first run is the one the People workflow started.
	partWF := breach.PartitionWorkflowID(incidentID, 1, 0)
	firstRun := ""
	for _, ev := range readHistory(peopleWF, "").Events {
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil && a.GetWorkflowExecution().GetWorkflowId() == partWF {
			firstRun = a.GetWorkflowExecution().GetRunId()
		}
	}
	if firstRun == "" {
		t.Fatal("no start of partition 0 in the people history")
	}
	type rec struct{ wf, run string }
	for file, r := range map[string]rec{IncidentHistory: {incWF, ""}, GDPRHistory: {gdprWF, ""}, NIS2History: {nis2WF, ""},
		PeopleHistory: {peopleWF, ""}, PartitionFirstHistory: {partWF, firstRun}, PartitionLastHistory: {partWF, ""}} {
		hist := readHistory(r.wf, r.run)
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

// Histories of the credential track: the incident (with its Credentials
// child), the Credentials workflow, and the last run of a reset partition.
const (
	IncidentCredentialsHistory = "incident_credentials.json"
	CredentialsHistory         = "credentials.json"
	MonitoringHistory          = "monitoring.json"
	ResetPartitionHistory      = "reset_partition.json"
)

// recAccounts is the synthetic population of the recorded reset.
const recAccounts = 1000

// credentialStandIns keep the reset rows in memory: one state per person;
// the connector breaks at the 4th batch until the configuration is replaced.
type credentialStandIns struct {
	mu      sync.Mutex
	done    map[int64]bool
	batches int
	broken  bool
	fixed   bool
	track   breach.TrackState
}

func (s *credentialStandIns) register(w worker.Worker) {
	reg := func(fn any, name string) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	const brokenMsg = "identity provider (webhook) misconfigured: webhook.url: no such endpoint at the receiver: HTTP 404"
	reg(func(ctx context.Context, in activities.CheckConnectorInput) error { return nil }, "CheckConnector")
	reg(func(ctx context.Context, in activities.StartResetInput) (activities.ResetRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.track = breach.TrackRunning
		return activities.ResetRef{StartedAt: time.Now().UTC(), Round: 1, Accounts: recAccounts, MinPerson: 1, MaxPerson: recAccounts}, nil
	}, "StartReset")
	reg(func(ctx context.Context, in activities.ResetStateInput) (activities.ResetRef, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.track = in.State
		if in.Config != nil {
			s.fixed = true
		}
		return activities.ResetRef{Round: 2, Accounts: recAccounts}, nil
	}, "SetResetState")
	reg(func(ctx context.Context, in activities.CreateResetRowsInput) (int64, error) {
		return in.To - in.From + 1, nil
	}, "CreateResetRows")
	reg(func(ctx context.Context, in activities.ResetBatchInput) (activities.ResetBatchResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		res := activities.ResetBatchResult{Next: in.Cursor}
		if s.track != breach.TrackRunning {
			res.Stopped = s.track
			return res, nil
		}
		s.batches++
		if s.batches == 4 && !s.fixed {
			s.track = breach.TrackPaused
			return res, temporal.NewNonRetryableApplicationError(brokenMsg, idp.ConfigErrorType, nil)
		}
		n := 0
		for id := max(in.Cursor, in.From); id <= in.To && n < in.Limit; id++ {
			if s.done[id] {
				continue
			}
			n++
			s.done[id] = true
			res.Claimed++
			res.Done++
			res.Next = id + 1
		}
		if n < in.Limit {
			res.Next = in.To + 1
		}
		return res, nil
	}, "ResetBatch")
	reg(func(ctx context.Context, in activities.PollStatusInput) (activities.PollStatusResult, error) {
		return activities.PollStatusResult{Checked: recAccounts, Completed: recAccounts / 3}, nil
	}, "PollStatus")
}

// TestRecordCredentialHistories runs an incident's credential track: the
// reset started, paused by a misconfigured connector, resumed with a new
// configuration, partitions continuing as new, one status poll, the close.
func TestRecordCredentialHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -args -record to record the replay histories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
	si := &standIns{versions: map[breach.DraftKey]int{}, letters: map[breach.Language]int{}, sent: map[int64]bool{}, deferred: map[int64]bool{}}
	si.register(w)
	cs := &credentialStandIns{done: map[int64]bool{}}
	cs.register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const incident = "rec-incident-credentials"
	now := time.Now().UTC().Truncate(time.Second)
	incWF := breach.WorkflowID(incident)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: incWF, TaskQueue: workflows.TaskQueue}, workflows.IncidentWorkflowName,
		workflows.IncidentParams{IncidentID: incident, DetectedAt: now.Add(-2 * time.Hour), AwareAt: now.Add(-time.Hour),
			RetentionAfterClose: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	credWF := breach.CredentialsWorkflowID(incident)
	update := func(name string, arg any) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: credWF, UpdateName: name, Args: []any{arg},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	view := func() workflows.CredentialsView {
		var v workflows.CredentialsView
		q, err := c.QueryWorkflow(ctx, credWF, "", workflows.QueryState)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Get(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	waitPhase := func(phase breach.TrackState, ok func(workflows.CredentialsView) bool) {
		for {
			v := view()
			if v.Phase == phase && v.Running == 0 && (ok == nil || ok(v)) {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for { // the incident starts its children first
		if _, err := c.DescribeWorkflowExecution(ctx, credWF, ""); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cfg := &idp.Config{Kind: idp.KindWebhook, Webhook: &idp.WebhookConfig{URL: "https://idp.example.org/synthetic", Secret: "env:SYNTHETIC_SECRET"}}
	if err := update(workflows.UpdateStartReset, workflows.StartResetUpdate{Actor: approverA, Config: cfg}); err == nil {
		t.Fatal("start by an approver accepted")
	}
	if err := update(workflows.UpdateStartReset, workflows.StartResetUpdate{Actor: dpo, Config: cfg, Options: workflows.ResetOptions{
		Partitions: 2, BatchSize: 100, BatchesPerRun: 3, PollInterval: time.Minute, PollFor: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	waitPhase(breach.TrackPaused, nil)
	if err := update(workflows.UpdateResumeReset, workflows.ResumeResetUpdate{Actor: dpo, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	waitPhase(breach.TrackPolling, func(v workflows.CredentialsView) bool { return v.Polls >= 1 })
	if err := func() error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: incWF, UpdateName: workflows.UpdateClose,
			Args: []any{workflows.CloseUpdate{Actor: dpo, Summary: "synthetic closing summary"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}(); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	readHistory := func(wf string) *historypb.History {
		hist := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, wf, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		return hist
	}
	for file, wf := range map[string]string{IncidentCredentialsHistory: incWF, CredentialsHistory: credWF,
		ResetPartitionHistory: breach.ResetPartitionWorkflowID(incident, 2, 0), MonitoringHistory: breach.MonitoringWorkflowID(incident)} {
		hist := readHistory(wf)
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(testdata, file)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		replayer := worker.NewWorkflowReplayer()
		workflows.Register(replayer)
		if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, path); err != nil {
			t.Fatalf("replay %s: %v", file, err)
		}
		t.Logf("%s: %d events", path, len(hist.Events))
	}
}
