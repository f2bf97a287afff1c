package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/testenv"
)

// TestMain stops the private Postgres cluster and the embedded Temporal
// server that the monitoring commands' tests start (on first use only).
func TestMain(m *testing.M) { pgtest.Main(m, testenv.Stop) }

// run executes the CLI in-process and returns stdout and the exit status.
func run(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return out.String() + err.Error(), exitCode(err)
	}
	return out.String(), 0
}

func TestAssessCommandPrintsTheAssessment(t *testing.T) {
	facts := `{"breach_types":["confidentiality"],
	 "data_categories":["identification","contact","employment","health","credentials"],
	 "subjects":4800000,"ease_of_identification":"maximum","recipients":"unknown","malicious":true}`
	out, code := run(t, facts, "assess", "--json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var got breach.Assessment
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Risk != breach.RiskHigh || !got.NotifySA || !got.NotifySubjects || got.ENISA.Band != breach.BandVeryHigh {
		t.Fatalf("motivating case assessed as %+v", got)
	}
	for _, key := range []string{`"enisa"`, `"dpc"`, `"ei"`, `"cb"`, `"score"`, `"band"`, `"risk"`, `"notify_sa"`, `"notify_subjects"`, `"exemption"`, `"reasons"`} {
		if !strings.Contains(out, key) {
			t.Errorf("output lacks %s", key)
		}
	}
}

func TestAssessCommandRejectsBadInputWithStatus2(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":         "",
		"unknown value": `{"breach_types":["theft"]}`,
		"wrong type":    `{"subjects":"many"}`,
		"unknown field": `{"colour":"red"}`,
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, doc, "assess", "--json", "-")
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d: %s", code, exitInvalid, out)
			}
		})
	}
	if _, code := run(t, "", "assess"); code != exitInvalid {
		t.Fatalf("missing --json: exit %d", code)
	}
}

func TestHelpDocumentsEveryVariable(t *testing.T) {
	out, code := run(t, "", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, v := range []string{"BREACH_DATABASE_URL", "BREACH_TEMPORAL_ADDRESS", "BREACH_PAYLOAD_KEY", "BREACH_HTTP_ADDR", "BREACH_TOKEN"} {
		if !strings.Contains(out, v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
}
