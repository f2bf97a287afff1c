package app

import (
	"context"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

func regimeOf(inc breach.Incident, code breach.RegimeCode) error {
	for _, r := range incidentRegimes(inc) {
		if r == code {
			return nil
		}
	}
	if _, known := breach.Regimes[code]; !known {
		return breach.Invalid("regime", "unknown regime %q", code)
	}
	return breach.Invalid("regime", "regime %q is not enabled for this incident", code)
}

func (s *Service) regimeWorkflow(ctx context.Context, id string, regime breach.RegimeCode) (string, error) {
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return "", err
	}
	if err := regimeOf(inc, regime); err != nil {
		return "", err
	}
	return breach.RegimeWorkflowID(id, regime), nil
}

// SaveDraft writes a new draft or a new version of the current draft of a
// regime's filing (the dossier for the authority, Art. 33(3)).
func (s *Service) SaveDraft(ctx context.Context, actor breach.Actor, id string, regime breach.RegimeCode, requestID string, u workflows.SaveDraftUpdate) (activities.DraftRef, error) {
	var ref activities.DraftRef
	if err := s.authorize(ctx, actor, id, workflows.UpdateSaveDraft, breach.RoleDPO, breach.RoleApprover); err != nil {
		return ref, err
	}
	if err := u.Fields.Validate(); err != nil {
		return ref, err
	}
	wid, err := s.regimeWorkflow(ctx, id, regime)
	if err != nil {
		return ref, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateSaveDraft, requestID, u, &ref)
	return ref, err
}

// DecideDraft approves or sends back a draft version. Four-eyes: the
// workflow refuses an approver who drafted or edited the version.
func (s *Service) DecideDraft(ctx context.Context, actor breach.Actor, id string, regime breach.RegimeCode, requestID string, u workflows.DecideDraftUpdate) error {
	if err := s.authorize(ctx, actor, id, workflows.UpdateDecideDraft, breach.RoleApprover); err != nil {
		return err
	}
	wid, err := s.regimeWorkflow(ctx, id, regime)
	if err != nil {
		return err
	}
	u.Actor = actor
	return s.update(ctx, actor, id, wid, workflows.UpdateDecideDraft, requestID, u, nil)
}

// RecordFiling records that the approved version was filed with the authority.
func (s *Service) RecordFiling(ctx context.Context, actor breach.Actor, id string, regime breach.RegimeCode, requestID string, u workflows.RecordFilingUpdate) (workflows.FilingResult, error) {
	var res workflows.FilingResult
	if err := s.authorize(ctx, actor, id, workflows.UpdateRecordFiling, breach.RoleDPO); err != nil {
		return res, err
	}
	switch {
	case u.FiledAt.IsZero():
		return res, breach.Invalid("filed_at", "is required")
	case u.FiledAt.After(s.now()):
		return res, breach.Invalid("filed_at", "is in the future")
	case u.Channel == "":
		return res, breach.Invalid("channel", "is required")
	case u.Reference == "":
		return res, breach.Invalid("reference", "is required: the authority's receipt reference")
	}
	wid, err := s.regimeWorkflow(ctx, id, regime)
	if err != nil {
		return res, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateRecordFiling, requestID, u, &res)
	return res, err
}

// DraftHTML returns the rendered dossier of one draft version, as approved and filed.
func (s *Service) DraftHTML(ctx context.Context, actor breach.Actor, incidentID, draftID string) ([]byte, error) {
	if err := s.draftOfIncident(ctx, actor, incidentID, draftID); err != nil {
		return nil, err
	}
	return s.Store.DraftHTML(ctx, draftID)
}

// DraftRecord returns the JSON export of one draft version's dossier: the
// same record as its HTML, as it was when the version was drafted.
func (s *Service) DraftRecord(ctx context.Context, actor breach.Actor, incidentID, draftID string) ([]byte, error) {
	if err := s.draftOfIncident(ctx, actor, incidentID, draftID); err != nil {
		return nil, err
	}
	return s.Store.DraftRecord(ctx, draftID)
}

// draftOfIncident checks that the actor may read drafts and that the draft
// belongs to the incident: IDs of other incidents' drafts are not confirmed.
func (s *Service) draftOfIncident(ctx context.Context, actor breach.Actor, incidentID, draftID string) error {
	if err := s.authorize(ctx, actor, incidentID, "read a draft", readers...); err != nil {
		return err
	}
	d, err := s.Store.Draft(ctx, draftID)
	if err != nil {
		return err
	}
	if d.IncidentID != incidentID {
		return breach.Errorf(breach.ErrNotFound, "draft %s not found in incident %s", draftID, incidentID)
	}
	return nil
}
