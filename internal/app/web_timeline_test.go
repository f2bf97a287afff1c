package app

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestWorkflowEvents maps decoded events as the history page decodes them:
// a timer's firing is named by the summary of its start, updates by their
// name, the tasks and activities are left out.
func TestWorkflowEvents(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	summary, _ := dc.ToPayload("gdpr initial reminder -24h0m0s")
	ev := func(id int64, typ enumspb.EventType, set func(*historypb.HistoryEvent)) *historypb.HistoryEvent {
		e := &historypb.HistoryEvent{EventId: id, EventType: typ, EventTime: timestamppb.New(at.Add(time.Duration(id) * time.Minute))}
		set(e)
		return e
	}
	raw := []*historypb.HistoryEvent{
		ev(1, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				WorkflowType: &commonpb.WorkflowType{Name: "Regime"}}}
		}),
		ev(2, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowTaskScheduledEventAttributes{WorkflowTaskScheduledEventAttributes: &historypb.WorkflowTaskScheduledEventAttributes{}}
		}),
		ev(3, enumspb.EVENT_TYPE_TIMER_STARTED, func(e *historypb.HistoryEvent) {
			e.UserMetadata = &sdkpb.UserMetadata{Summary: summary}
			e.Attributes = &historypb.HistoryEvent_TimerStartedEventAttributes{TimerStartedEventAttributes: &historypb.TimerStartedEventAttributes{
				TimerId: "7", StartToFireTimeout: durationpb.New(time.Hour)}}
		}),
		ev(4, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{
				AcceptedRequest: &updatepb.Request{Input: &updatepb.Input{Name: "save_draft"}}}}
		}),
		ev(5, enumspb.EVENT_TYPE_TIMER_FIRED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_TimerFiredEventAttributes{TimerFiredEventAttributes: &historypb.TimerFiredEventAttributes{
				TimerId: "7", StartedEventId: 3}}
		}),
		ev(6, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionUpdateRejectedEventAttributes{WorkflowExecutionUpdateRejectedEventAttributes: &historypb.WorkflowExecutionUpdateRejectedEventAttributes{
				RejectedRequest: &updatepb.Request{Input: &updatepb.Input{Name: "decide_draft"}}, Failure: &failurepb.Failure{Message: "four eyes"}}}
		}),
		ev(7, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes{WorkflowExecutionContinuedAsNewEventAttributes: &historypb.WorkflowExecutionContinuedAsNewEventAttributes{}}
		}),
	}
	h := WorkflowHistory{WorkflowID: "incident/abc/gdpr"}
	for _, e := range raw {
		h.Events = append(h.Events, decodeEvent(e, dc))
	}
	got := workflowEvents([]WorkflowHistory{h, {WorkflowID: "incident/abc/people", Missing: true}})
	want := []WorkflowEvent{
		{Kind: WorkflowStarted, Name: "Regime"},
		{Kind: UpdateAccepted, Name: "save_draft"},
		{Kind: TimerFired, Name: "gdpr initial reminder -24h0m0s"},
		{Kind: UpdateRejected, Name: "decide_draft", Detail: "four eyes"},
		{Kind: ContinuedAsNew},
	}
	if len(got) != len(want) {
		t.Fatalf("events: %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Name != w.Name || g.Detail != w.Detail || g.Workflow != "gdpr" || g.WorkflowID != h.WorkflowID {
			t.Errorf("event %d: got %+v, want %+v", i, g, w)
		}
	}
	if !got[2].At.Equal(at.Add(5 * time.Minute)) {
		t.Errorf("timer fired at %s", got[2].At)
	}
}
