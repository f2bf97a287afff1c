// Package app holds the engine's use cases: what a DPO, an approver or an
// auditor can do, whatever the door they come through (the JSON API, the web
// pages). Each use case checks the actor's role, then either reads Postgres or
// asks the incident's workflow through a Temporal Update, which validates the
// request again and records the change with its audit row.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/workflows"
)

// Service runs the use cases.
type Service struct {
	Store           *store.Store
	Temporal        client.Client
	TaskQueue       string
	ReminderOffsets []time.Duration
	// RetentionAfterClose goes into each new incident's workflow parameters:
	// the purge of its people's contact data that long after the closure
	// (GDPR Art. 5(1)(e)); 0: breach.DefaultRetentionAfterClose.
	RetentionAfterClose time.Duration
	// MonitoringPeriod goes into each new incident's workflow parameters:
	// the follow-up monitoring's length; 0: workflows.DefaultMonitoringPeriod.
	MonitoringPeriod time.Duration
	Logger           *slog.Logger
	Now              func() time.Time
	// Vault seals and opens the contact data of affected people
	// (BREACH_DATA_KEY); imports need it.
	Vault *vault.Vault
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// readers may read incidents, drafts and filings; admins only manage accounts.
var readers = []breach.Role{breach.RoleDPO, breach.RoleApprover, breach.RoleAuditor}

// authorize checks the actor's role and audits a refusal: every refused
// attempt to act on an incident is on record.
func (s *Service) authorize(ctx context.Context, actor breach.Actor, incidentID, action string, roles ...breach.Role) error {
	if slices.Contains(roles, actor.Role) {
		return nil
	}
	err := breach.Errorf(breach.ErrForbidden, "role %q may not %s", actor.Role, action)
	if incidentID != "" || action != "" {
		if aerr := s.Store.RecordRejection(context.WithoutCancel(ctx), incidentID, actor, action, err.Message); aerr != nil {
			return fmt.Errorf("app: audit refusal of %s: %w", action, aerr)
		}
	}
	return err
}

// OpenIncident validates and stores a new incident, then starts its workflow.
// With a Reference, opening again returns the same incident and never starts a
// second workflow: the workflow ID is derived from the incident ID and Temporal
// refuses a duplicate.
func (s *Service) OpenIncident(ctx context.Context, actor breach.Actor, in breach.IncidentInput) (breach.Incident, bool, error) {
	if err := s.authorize(ctx, actor, "", "open an incident", breach.RoleDPO); err != nil {
		return breach.Incident{}, false, err
	}
	if err := in.Validate(s.now()); err != nil {
		return breach.Incident{}, false, err
	}
	inc, created, err := s.Store.CreateIncident(ctx, actor, in)
	if err != nil {
		return breach.Incident{}, false, err
	}
	if err := s.startWorkflow(ctx, inc); err != nil {
		return inc, created, err
	}
	return inc, created, nil
}

func (s *Service) startWorkflow(ctx context.Context, inc breach.Incident) error {
	regimes := []breach.RegimeCode{breach.RegimeGDPR}
	for _, r := range inc.Regimes {
		if !slices.Contains(regimes, r) {
			regimes = append(regimes, r)
		}
	}
	params := workflows.IncidentParams{
		IncidentID:          inc.ID,
		DetectedAt:          inc.DetectedAt,
		AwareAt:             inc.AwareAt,
		Regimes:             regimes,
		ReminderOffsets:     s.ReminderOffsets,
		RetentionAfterClose: s.RetentionAfterClose,
		MonitoringPeriod:    s.MonitoringPeriod,
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    breach.WorkflowID(inc.ID),
		TaskQueue:             s.TaskQueue,
		WorkflowIDReusePolicy: 3, // REJECT_DUPLICATE: one workflow per incident, ever
	}, workflows.IncidentWorkflowName, params)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: start workflow of incident %s: %w", inc.ID, err)
	}
	return nil
}

// update sends a Workflow Update and waits for its outcome. A rejection by the
// workflow's validator or a failed handler comes back as a domain error, and a
// rejection is audited like a refusal at the door.
func (s *Service) update(ctx context.Context, actor breach.Actor, incidentID, workflowID, name, updateID string, arg, result any) error {
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		UpdateID:     updateID,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, result)
	}
	if err == nil {
		return nil
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return breach.Errorf(breach.ErrConflict, "incident %s has no running workflow for %s", incidentID, name)
	}
	derr := workflows.DomainError(err)
	if derr == nil {
		return fmt.Errorf("app: update %s on %s: %w", name, workflowID, err)
	}
	if aerr := s.Store.RecordRejection(context.WithoutCancel(ctx), incidentID, actor, name, derr.Message); aerr != nil {
		return fmt.Errorf("app: audit rejected %s: %w", name, aerr)
	}
	return derr
}
