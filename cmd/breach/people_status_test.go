package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// TestPeopleStatusWatchDrawsUntilDone: the watch redraws from the counters
// the server returns until the send completes, then prints the summary.
func TestPeopleStatusWatchDrawsUntilDone(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/incidents/inc-1/people/status" || r.Header.Get("Authorization") != "Bearer brt_test" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		i := calls.Add(1)
		sent := min(i*300, 1000)
		state := breach.SendRunning
		if sent == 1000 {
			state = breach.SendCompleted
		}
		st := app.PeopleStatus{
			DeliveryStatus: store.DeliveryStatus{IncidentID: "inc-1", People: 1000,
				Counts: breach.DeliveryCounts{Pending: 1000 - sent, Sent: sent},
				Send:   &breach.Send{Seq: 1, State: state, Policy: breach.PolicyResend}},
			Total: 1000, Done: sent, At: time.Now(),
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	t.Setenv("BREACH_URL", srv.URL)
	t.Setenv("BREACH_TOKEN", "brt_test")
	out, code := run(t, "", "people", "status", "--incident", "inc-1", "--watch", "--every", "10ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if calls.Load() < 4 {
		t.Fatalf("%d readings, want the watch to go on until the send completed", calls.Load())
	}
	for _, want := range []string{"breach: people:", "100%", "1,000/1,000", "send 1: completed", "sent     1,000"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, code := run(t, "", "people", "status"); code != exitInvalid {
		t.Fatalf("without --incident: exit %d: %s", code, out)
	}
}
