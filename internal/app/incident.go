package app

import (
	"context"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/workflows"
)

// IncidentView is everything known about one incident, as the API and the
// pages show it.
type IncidentView struct {
	Incident    breach.Incident           `json:"incident"`
	Deadlines   []breach.Deadline         `json:"deadlines"`
	Assessments []breach.AssessmentRecord `json:"assessments"`
	Drafts      []breach.DraftVersion     `json:"drafts"`
	Filings     []breach.Filing           `json:"filings"`
	// Purge is when the contact data of the incident's people is due to be
	// destroyed (set at closure) and when it was (GDPR Art. 5(1)(e)).
	Purge store.PurgeState `json:"purge"`
}

// Incident returns one incident with its derived deadlines, assessments, drafts and filings.
func (s *Service) Incident(ctx context.Context, actor breach.Actor, id string) (IncidentView, error) {
	if err := s.authorize(ctx, actor, id, "read an incident", readers...); err != nil {
		return IncidentView{}, err
	}
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return IncidentView{}, err
	}
	v := IncidentView{Incident: inc}
	if v.Assessments, err = s.Store.Assessments(ctx, id); err != nil {
		return IncidentView{}, err
	}
	if v.Drafts, err = s.Store.Drafts(ctx, id); err != nil {
		return IncidentView{}, err
	}
	if v.Filings, err = s.Store.Filings(ctx, id); err != nil {
		return IncidentView{}, err
	}
	if v.Purge, err = s.Store.Purge(ctx, id); err != nil {
		return IncidentView{}, err
	}
	v.Deadlines = Deadlines(inc, v.Filings)
	return v, nil
}

// Deadlines derives every dated obligation of the incident's regimes from its
// awareness time and its filings: deadlines are never stored, so moving
// aware_at moves them everywhere at once.
func Deadlines(inc breach.Incident, filings []breach.Filing) []breach.Deadline {
	return breach.IncidentDeadlines(inc, filings)
}

func incidentRegimes(inc breach.Incident) []breach.RegimeCode {
	out := []breach.RegimeCode{breach.RegimeGDPR}
	for _, r := range inc.Regimes {
		if r != breach.RegimeGDPR {
			out = append(out, r)
		}
	}
	return out
}

// Incidents lists every incident.
func (s *Service) Incidents(ctx context.Context, actor breach.Actor) ([]breach.Incident, error) {
	if err := s.authorize(ctx, actor, "", "list incidents", readers...); err != nil {
		return nil, err
	}
	return s.Store.ListIncidents(ctx)
}

// Proposal is the engine's risk proposal for the incident's current facts.
func (s *Service) Proposal(ctx context.Context, actor breach.Actor, id string) (breach.Assessment, error) {
	if err := s.authorize(ctx, actor, id, "read an assessment", readers...); err != nil {
		return breach.Assessment{}, err
	}
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return breach.Assessment{}, err
	}
	return breach.Assess(inc.Facts()), nil
}

// Assess confirms or overrides the proposed risk, with a reason.
func (s *Service) Assess(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.AssessUpdate) (activities.AssessResult, error) {
	var res activities.AssessResult
	if err := s.authorize(ctx, actor, id, workflows.UpdateAssess, breach.RoleDPO); err != nil {
		return res, err
	}
	if u.Reason == "" {
		return res, breach.Invalid("reason", "is required: the register keeps the rationale of every decision (GDPR Art. 33(5))")
	}
	if u.Risk != nil && !u.Risk.Valid() {
		return res, breach.Invalid("risk", "must be none, risk or high")
	}
	u.Actor = actor
	err := s.update(ctx, actor, id, breach.WorkflowID(id), workflows.UpdateAssess, requestID, u, &res)
	return res, err
}

// ChangeAwareAt moves the start of the Art. 33 clock, with a justification.
func (s *Service) ChangeAwareAt(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.ChangeAwareAtUpdate) error {
	if err := s.authorize(ctx, actor, id, workflows.UpdateChangeAwareAt, breach.RoleDPO); err != nil {
		return err
	}
	if u.AwareAt.IsZero() {
		return breach.Invalid("aware_at", "is required")
	}
	if u.Reason == "" {
		return breach.Invalid("reason", "is required: say why the awareness time changes")
	}
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return err
	}
	if u.AwareAt.After(s.now()) {
		return breach.Invalid("aware_at", "is in the future")
	}
	if u.AwareAt.Before(inc.DetectedAt) {
		return breach.Invalid("aware_at", "is before detected_at")
	}
	u.Actor = actor
	return s.update(ctx, actor, id, breach.WorkflowID(id), workflows.UpdateChangeAwareAt, requestID, u, nil)
}

// Close closes the incident with a summary; its register entry is then frozen.
func (s *Service) Close(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.CloseUpdate) error {
	if err := s.authorize(ctx, actor, id, workflows.UpdateClose, breach.RoleDPO); err != nil {
		return err
	}
	if u.Summary == "" {
		return breach.Invalid("summary", "is required")
	}
	u.Actor = actor
	return s.update(ctx, actor, id, breach.WorkflowID(id), workflows.UpdateClose, requestID, u, nil)
}
