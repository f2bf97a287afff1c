package app

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// The follow-up monitoring (DESIGN.md track 5): abuse signals from the
// organisation, the reminder letter, and the alerts and reports for the DPO
// and the auditors. Changes go through the incident's Monitoring workflow
// (breach.MonitoringWorkflowID), reads through Postgres.

// monitorReaders may read the alerts and reports: the DPO and the auditors.
var monitorReaders = []breach.Role{breach.RoleDPO, breach.RoleAuditor}

// SignalsResult answers an ingestion: what was stored, counts only, and
// whether the monitoring workflow was told.
type SignalsResult struct {
	IncidentID string               `json:"incident_id"`
	Batch      string               `json:"batch"`
	Signals    int                  `json:"signals"`
	Counts     []breach.SignalCount `json:"counts"`
	// Monitoring is "signalled", or "not running" (no monitoring workflow
	// yet, or it ended): the signals are stored and counted in the reports,
	// and a workflow that starts later checks them against the thresholds.
	Monitoring string `json:"monitoring"`
}

// RecordSignals stores abuse signals reported by the organisation (signed
// webhook) with their audit row, then tells the incident's monitoring
// workflow, IDs and counts only: the account IDs stay in this process, and
// are stored as blind indexes only.
func (s *Service) RecordSignals(ctx context.Context, actor breach.Actor, incidentID string, signals []breach.AbuseSignal) (SignalsResult, error) {
	res := SignalsResult{IncidentID: incidentID}
	if err := breach.ValidateSignals(signals, s.now()); err != nil {
		return res, err
	}
	in, err := s.Store.RecordSignals(ctx, actor, incidentID, signals, s.Vault)
	if err != nil {
		return res, err
	}
	res.Batch, res.Signals, res.Counts, res.Monitoring = in.Batch, in.Signals, in.Counts, "not running"
	if s.Temporal == nil {
		return res, nil
	}
	err = s.Temporal.SignalWorkflow(ctx, breach.MonitoringWorkflowID(incidentID), "", workflows.SignalAbuse,
		workflows.AbuseSignalBatch{Batch: in.Batch, Counts: in.Counts})
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		res.Monitoring = "signalled"
	case errors.As(err, &nf):
	default:
		// Stored and audited: the workflow finds them at its next check (each
		// report). Answering an error would make the sender retry and store
		// them twice.
		if s.Logger != nil {
			s.Logger.Warn("abuse signals stored but not signalled", "incident_id", incidentID, "batch", in.Batch, "err", err)
		}
	}
	return res, nil
}

// SaveReminder writes the first version of the reminder in a language, or a
// new version of the current one.
func (s *Service) SaveReminder(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.SaveReminderUpdate) (activities.LetterRef, error) {
	var ref activities.LetterRef
	if err := s.authorize(ctx, actor, id, workflows.UpdateSaveReminder, breach.RoleDPO, breach.RoleApprover); err != nil {
		return ref, err
	}
	if u.Fields.Language == "" {
		u.Fields.Language = u.Language
	}
	if u.Language == "" {
		u.Language = u.Fields.Language
	}
	if err := u.Fields.Validate(); err != nil {
		return ref, err
	}
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return ref, err
	}
	u.Actor = actor
	err := s.update(ctx, actor, id, breach.MonitoringWorkflowID(id), workflows.UpdateSaveReminder, requestID, u, &ref)
	return ref, err
}

// DecideReminder approves or sends back a reminder version (four-eyes).
func (s *Service) DecideReminder(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.DecideLetterUpdate) (workflows.LetterStatus, error) {
	var st workflows.LetterStatus
	if err := s.authorize(ctx, actor, id, workflows.UpdateDecideReminder, breach.RoleApprover); err != nil {
		return st, err
	}
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return st, err
	}
	u.Actor = actor
	err := s.update(ctx, actor, id, breach.MonitoringWorkflowID(id), workflows.UpdateDecideReminder, requestID, u, &st)
	return st, err
}

// Reminders lists every version of the incident's reminder letter.
func (s *Service) Reminders(ctx context.Context, actor breach.Actor, id string) ([]breach.LetterVersion, error) {
	if err := s.authorize(ctx, actor, id, "read the reminders", readers...); err != nil {
		return nil, err
	}
	return s.Store.LettersOf(ctx, id, breach.LetterReminder)
}

// Monitoring is what the incident page and the API show of the monitoring:
// its alerts and reports (without their HTML), and the workflow's view when
// it runs.
type Monitoring struct {
	Alerts  []breach.MonitoringAlert  `json:"alerts"`
	Reports []breach.MonitoringReport `json:"reports"`
	View    *workflows.MonitoringView `json:"workflow,omitempty"`
}

// MonitoringStatus reads the alerts and reports; withView also queries the
// workflow (nil when it does not run).
func (s *Service) MonitoringStatus(ctx context.Context, actor breach.Actor, id string, withView bool) (Monitoring, error) {
	var m Monitoring
	if err := s.authorize(ctx, actor, id, "read the monitoring", monitorReaders...); err != nil {
		return m, err
	}
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return m, err
	}
	var err error
	if m.Alerts, err = s.Store.Alerts(ctx, id); err != nil {
		return m, err
	}
	if m.Reports, err = s.Store.Reports(ctx, id); err != nil {
		return m, err
	}
	if withView && s.Temporal != nil {
		v, err := s.Temporal.QueryWorkflow(ctx, breach.MonitoringWorkflowID(id), "", workflows.QueryState)
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			var mv workflows.MonitoringView
			if err := v.Get(&mv); err != nil {
				return m, fmt.Errorf("app: monitoring view: %w", err)
			}
			m.View = &mv
		case errors.As(err, &nf):
		default:
			return m, fmt.Errorf("app: monitoring view: %w", err)
		}
	}
	return m, nil
}

// MonitoringReport returns one report with its HTML as it was stored and
// mailed; its content hash lets a reader check it.
func (s *Service) MonitoringReport(ctx context.Context, actor breach.Actor, id, reportID string) (breach.MonitoringReport, []byte, error) {
	if err := s.authorize(ctx, actor, id, "read the monitoring reports", monitorReaders...); err != nil {
		return breach.MonitoringReport{}, nil, err
	}
	return s.Store.ReportHTML(ctx, id, reportID)
}
