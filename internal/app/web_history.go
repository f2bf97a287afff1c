package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/breach-engine/breach/internal/breach"
)

// maxHistoryEvents bounds what one workflow shows: an incident's workflows
// have tens of events; a page of thousands helps nobody.
const maxHistoryEvents = 2000

// HistoryEvent is one event of a workflow's history, with its payloads decoded.
type HistoryEvent struct {
	ID       int64
	At       time.Time
	Type     string   // "WorkflowExecutionUpdateAccepted"
	Details  string   // the event's attributes as JSON, payloads taken out
	Payloads []string // the payloads, decrypted and decoded
}

// WorkflowHistory is the history of one of an incident's workflows (its
// latest run).
type WorkflowHistory struct {
	WorkflowID string
	Missing    bool // Temporal has no such workflow (never started, or its history was deleted)
	Truncated  bool
	Events     []HistoryEvent
}

// IncidentHistory reads the Temporal history of the incident's workflow and
// of each regime's child, and decodes the payloads with dc (the engine's
// encrypting data converter): what the Temporal UI would show through the
// codec endpoint, for auditors and the DPO.
func (s *Service) IncidentHistory(ctx context.Context, actor breach.Actor, incidentID string, dc converter.DataConverter) ([]WorkflowHistory, error) {
	if err := s.authorize(ctx, actor, incidentID, "read the workflow history", breach.RoleAuditor, breach.RoleDPO); err != nil {
		return nil, err
	}
	inc, err := s.Store.GetIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	ids := []string{breach.WorkflowID(inc.ID)}
	for _, r := range incidentRegimes(inc) {
		ids = append(ids, breach.RegimeWorkflowID(inc.ID, r))
	}
	// The people child runs only once people are told; shown when it exists.
	people := breach.PeopleWorkflowID(inc.ID)
	ids = append(ids, people)
	// So does the monitoring, once the credential track started it.
	monitoring := breach.MonitoringWorkflowID(inc.ID)
	ids = append(ids, monitoring)
	// The workflows are read at once: the page waits for the slowest, not the sum.
	hs := make([]WorkflowHistory, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs[i], errs[i] = s.workflowHistory(ctx, id, dc)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]WorkflowHistory, 0, len(hs))
	for _, h := range hs {
		if h.Missing && (h.WorkflowID == people || h.WorkflowID == monitoring) {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

// workflowHistory reads and decodes the history of one workflow's latest run.
func (s *Service) workflowHistory(ctx context.Context, id string, dc converter.DataConverter) (WorkflowHistory, error) {
	h := WorkflowHistory{WorkflowID: id}
	it := s.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			h.Missing = true
			break
		}
		if err != nil {
			return h, err
		}
		if len(h.Events) == maxHistoryEvents {
			h.Truncated = true
			break
		}
		h.Events = append(h.Events, decodeEvent(ev, dc))
	}
	return h, nil
}

// decodeEvent takes the payloads out of an event, decoding each, and writes
// the rest of its attributes as JSON.
func decodeEvent(ev *historypb.HistoryEvent, dc converter.DataConverter) HistoryEvent {
	e := HistoryEvent{ID: ev.GetEventId(), At: ev.GetEventTime().AsTime(), Type: eventName(ev.GetEventType())}
	clone := proto.Clone(ev).(*historypb.HistoryEvent)
	clone.EventId, clone.EventTime, clone.EventType, clone.TaskId, clone.Version = 0, nil, 0, 0, 0
	takePayloads(clone.ProtoReflect(), "", dc, &e.Payloads)
	if b, err := (protojson.MarshalOptions{Indent: "  "}).Marshal(clone); err == nil {
		e.Details = string(b)
	}
	return e
}

var payloadName = (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()

// takePayloads walks a message, decodes every Payload found (field name
// first) and clears it, so that the JSON of the rest stays readable.
func takePayloads(m protoreflect.Message, path string, dc converter.DataConverter, out *[]string) {
	var clear []protoreflect.FieldDescriptor
	decode := func(name string, p protoreflect.Message) {
		s := "(encrypted)"
		if dc != nil {
			s = dc.ToString(p.Interface().(*commonpb.Payload))
		}
		*out = append(*out, name+": "+s)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		md := fd.Message()
		if md == nil {
			return true
		}
		name := strings.TrimPrefix(path+"."+string(fd.Name()), ".")
		switch {
		case fd.IsMap():
			vd := fd.MapValue().Message()
			if vd == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if vd.FullName() == payloadName {
					decode(name+"["+k.String()+"]", mv.Message())
				} else {
					takePayloads(mv.Message(), name, dc, out)
				}
				return true
			})
			if vd.FullName() == payloadName {
				clear = append(clear, fd)
			}
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				if md.FullName() == payloadName {
					decode(name, list.Get(i).Message())
				} else {
					takePayloads(list.Get(i).Message(), name, dc, out)
				}
			}
			if md.FullName() == payloadName {
				clear = append(clear, fd)
			}
		case md.FullName() == payloadName:
			decode(name, v.Message())
			clear = append(clear, fd)
		default:
			takePayloads(v.Message(), name, dc, out)
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
}

// eventName names an event type WorkflowExecutionStarted, as the Temporal UI
// does (the API's String gives this form; older ones gave EVENT_TYPE_...).
func eventName(t enumspb.EventType) string {
	name := t.String()
	if !strings.Contains(name, "_") {
		return name
	}
	var b strings.Builder
	for _, w := range strings.Split(strings.TrimPrefix(name, "EVENT_TYPE_"), "_") {
		if w == "" {
			continue
		}
		b.WriteString(w[:1])
		b.WriteString(strings.ToLower(w[1:]))
	}
	return b.String()
}
