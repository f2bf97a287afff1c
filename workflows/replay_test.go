package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// Replay tests: the committed histories in testdata were recorded from a real
// Temporal server (see workflows/internal/record). A change to the workflow
// code that is not deterministic against them fails here: put it behind
// workflow.GetVersion, or, before the first release, re-record the histories.
func replay(t *testing.T, file string) {
	t.Helper()
	replayer := worker.NewWorkflowReplayer()
	Register(replayer)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", file)); err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
}

func TestReplayIncident(t *testing.T)   { replay(t, "incident.json") }
func TestReplayRegimeGDPR(t *testing.T) { replay(t, "regime_gdpr.json") }
func TestReplayRegimeNIS2(t *testing.T) { replay(t, "regime_nis2.json") }

// The incident history recorded before the people track existed replays
// through the GetVersion default branch: no People child.
func TestReplayIncidentBeforePeople(t *testing.T) { replay(t, "incident_before_people.json") }
func TestReplayPeople(t *testing.T)               { replay(t, "people.json") }
func TestReplayPartitionFirstRun(t *testing.T)    { replay(t, "partition_first_run.json") }
func TestReplayPartitionLastRun(t *testing.T)     { replay(t, "partition_last_run.json") }

// The credential track: the incident with its Credentials child, the
// Credentials workflow (paused by a misconfigured connector, resumed,
// polling, closed), and the last run of a reset partition. incident.json,
// recorded before the credential track, replays without the child.
func TestReplayIncidentWithCredentials(t *testing.T) { replay(t, "incident_credentials.json") }
func TestReplayCredentials(t *testing.T)             { replay(t, "credentials.json") }
func TestReplayResetPartition(t *testing.T)          { replay(t, "reset_partition.json") }

// The follow-up monitoring, started by the incident when the credential
// track reports that the reset started, and ended by the closure with its
// final report.
func TestReplayMonitoring(t *testing.T) { replay(t, "monitoring.json") }

// Histories recorded before a change replay through its GetVersion default
// branch: the incident before the purge after closure (and before the
// credential track), the incident with its credential track before the
// purge, the credential track before it started the monitoring.
func TestReplayIncidentBeforePurge(t *testing.T) { replay(t, "incident_before_purge.json") }
func TestReplayIncidentCredentialsBeforePurge(t *testing.T) {
	replay(t, "incident_credentials_before_purge.json")
}
func TestReplayCredentialsBeforeMonitoring(t *testing.T) {
	replay(t, "credentials_before_monitoring.json")
}
