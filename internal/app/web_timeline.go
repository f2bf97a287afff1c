package app

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/breach-engine/breach/internal/breach"
)

// WorkflowEventKind is what a workflow event means for the incident's
// timeline; the pages word it in the reader's language.
type WorkflowEventKind string

const (
	WorkflowStarted   WorkflowEventKind = "started"         // the workflow run began
	ChildStarted      WorkflowEventKind = "child_started"   // a child workflow began (a regime, the people)
	TimerFired        WorkflowEventKind = "timer_fired"     // a reminder's or an escalation's time came
	UpdateAccepted    WorkflowEventKind = "update_accepted" // an update (assess, save_draft…) was taken
	UpdateRejected    WorkflowEventKind = "update_rejected" // an update was refused by its validator
	SignalReceived    WorkflowEventKind = "signal"          // a signal arrived
	ContinuedAsNew    WorkflowEventKind = "continued"       // the run went on as a new run
	WorkflowCompleted WorkflowEventKind = "completed"
	WorkflowFailed    WorkflowEventKind = "failed"
	WorkflowCanceled  WorkflowEventKind = "canceled"
	WorkflowEnded     WorkflowEventKind = "terminated" // terminated or timed out
)

// WorkflowEvent is one meaningful event of an incident's workflows, for the
// incident page's timeline: the other events (tasks, activities, markers)
// are on the history page.
type WorkflowEvent struct {
	At         time.Time
	WorkflowID string // "incident/<id>/gdpr"
	Workflow   string // "incident", "gdpr", "people": which workflow, short
	Kind       WorkflowEventKind
	Name       string // the update's, signal's or child's name, the timer's summary ("gdpr initial reminder -24h")
	Detail     string // a rejected update's reason
}

// WorkflowTimeline reads the incident's workflow histories through
// IncidentHistory and keeps the events that tell what happened, oldest
// first within each workflow. Workflows Temporal does not know (never
// started, or deleted) are left out.
func (s *Service) WorkflowTimeline(ctx context.Context, actor breach.Actor, incidentID string, dc converter.DataConverter) ([]WorkflowEvent, error) {
	hs, err := s.IncidentHistory(ctx, actor, incidentID, dc)
	if err != nil {
		return nil, err
	}
	return workflowEvents(hs), nil
}

// workflowEvents maps decoded histories to timeline events.
func workflowEvents(hs []WorkflowHistory) []WorkflowEvent {
	var out []WorkflowEvent
	for _, h := range hs {
		if h.Missing {
			continue
		}
		short := shortWorkflow(h.WorkflowID)
		timers := map[string]string{} // timer started event ID -> summary
		for _, e := range h.Events {
			ev := WorkflowEvent{At: e.At, WorkflowID: h.WorkflowID, Workflow: short}
			var d eventDetails
			_ = json.Unmarshal([]byte(e.Details), &d)
			switch e.Type {
			case "WorkflowExecutionStarted":
				ev.Kind, ev.Name = WorkflowStarted, d.Started.WorkflowType.Name
			case "ChildWorkflowExecutionStarted":
				ev.Kind, ev.Name = ChildStarted, shortWorkflow(d.ChildStarted.WorkflowExecution.WorkflowID)
			case "TimerStarted":
				timers[itoa64(e.ID)] = summaryOf(e.Payloads)
				continue
			case "TimerFired":
				ev.Kind, ev.Name = TimerFired, timers[d.TimerFired.StartedEventID]
				if ev.Name == "" {
					ev.Name = d.TimerFired.TimerID
				}
			case "WorkflowExecutionUpdateAccepted":
				ev.Kind, ev.Name = UpdateAccepted, d.UpdateAccepted.AcceptedRequest.Input.Name
			case "WorkflowExecutionUpdateRejected":
				ev.Kind, ev.Name = UpdateRejected, d.UpdateRejected.RejectedRequest.Input.Name
				ev.Detail = d.UpdateRejected.Failure.Message
			case "WorkflowExecutionSignaled":
				ev.Kind, ev.Name = SignalReceived, d.Signaled.SignalName
			case "WorkflowExecutionContinuedAsNew":
				ev.Kind = ContinuedAsNew
			case "WorkflowExecutionCompleted":
				ev.Kind = WorkflowCompleted
			case "WorkflowExecutionFailed":
				ev.Kind = WorkflowFailed
			case "WorkflowExecutionCanceled":
				ev.Kind = WorkflowCanceled
			case "WorkflowExecutionTerminated", "WorkflowExecutionTimedOut":
				ev.Kind = WorkflowEnded
			default:
				continue
			}
			out = append(out, ev)
		}
	}
	return out
}

// eventDetails is what the timeline reads of an event's attributes (the
// protojson of HistoryEvent.Details, payloads taken out).
type eventDetails struct {
	Started struct {
		WorkflowType struct {
			Name string `json:"name"`
		} `json:"workflowType"`
	} `json:"workflowExecutionStartedEventAttributes"`
	ChildStarted struct {
		WorkflowExecution struct {
			WorkflowID string `json:"workflowId"`
		} `json:"workflowExecution"`
	} `json:"childWorkflowExecutionStartedEventAttributes"`
	TimerFired struct {
		TimerID        string `json:"timerId"`
		StartedEventID string `json:"startedEventId"` // int64: a string in protojson
	} `json:"timerFiredEventAttributes"`
	UpdateAccepted struct {
		AcceptedRequest struct {
			Input struct {
				Name string `json:"name"`
			} `json:"input"`
		} `json:"acceptedRequest"`
	} `json:"workflowExecutionUpdateAcceptedEventAttributes"`
	UpdateRejected struct {
		RejectedRequest struct {
			Input struct {
				Name string `json:"name"`
			} `json:"input"`
		} `json:"rejectedRequest"`
		Failure struct {
			Message string `json:"message"`
		} `json:"failure"`
	} `json:"workflowExecutionUpdateRejectedEventAttributes"`
	Signaled struct {
		SignalName string `json:"signalName"`
	} `json:"workflowExecutionSignaledEventAttributes"`
}

// summaryOf finds a timer's summary among the event's decoded payloads
// ("user_metadata.summary: \"gdpr initial reminder -24h0m0s\"").
func summaryOf(payloads []string) string {
	for _, p := range payloads {
		if v, ok := strings.CutPrefix(p, "user_metadata.summary: "); ok {
			var s string
			if json.Unmarshal([]byte(v), &s) == nil {
				return s
			}
			return "" // not decoded: no codec given
		}
	}
	return ""
}

// shortWorkflow names a workflow by the last part of its ID: "incident" for
// the incident's own, the regime's code or "people" for its children.
func shortWorkflow(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) <= 2 {
		return "incident"
	}
	return parts[len(parts)-1]
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
