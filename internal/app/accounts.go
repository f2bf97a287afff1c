package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/workflows"
)

// The credential track (DESIGN.md track 4): the DPO starts, pauses and
// resumes the forced password reset of every affected account through the
// incident's Credentials workflow; the organisation reports completions by a
// signed webhook; everyone who reads the incident follows the progress.

// credentialsWorkflow checks the incident exists and names its credentials
// workflow.
func (s *Service) credentialsWorkflow(ctx context.Context, id string) (string, error) {
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return "", err
	}
	return breach.CredentialsWorkflowID(id), nil
}

// StartReset starts the reset: DPO only. No approval is needed and the
// letters need not have gone out: forcing a reset is a mitigation (Art.
// 33(3)(d)), not a communication. The workflow checks the connector against
// the live provider first, so a misconfiguration is refused at once.
func (s *Service) StartReset(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.StartResetUpdate) (workflows.CredentialsView, error) {
	var v workflows.CredentialsView
	if err := s.authorize(ctx, actor, id, workflows.UpdateStartReset, breach.RoleDPO); err != nil {
		return v, err
	}
	if u.Config == nil {
		return v, breach.Invalid("config", "the identity provider connector's configuration is required")
	}
	if err := u.Config.Validate(); err != nil {
		return v, prefixField("config", err)
	}
	wid, err := s.credentialsWorkflow(ctx, id)
	if err != nil {
		return v, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateStartReset, requestID, u, &v)
	return v, err
}

// PauseReset pauses the reset: DPO only, with a reason.
func (s *Service) PauseReset(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.PauseResetUpdate) (workflows.CredentialsView, error) {
	var v workflows.CredentialsView
	if err := s.authorize(ctx, actor, id, workflows.UpdatePauseReset, breach.RoleDPO); err != nil {
		return v, err
	}
	wid, err := s.credentialsWorkflow(ctx, id)
	if err != nil {
		return v, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdatePauseReset, requestID, u, &v)
	return v, err
}

// ResumeReset resumes a paused reset (after the connector's configuration
// was fixed: give the corrected one, or none to keep the stored one): DPO
// only.
func (s *Service) ResumeReset(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.ResumeResetUpdate) (workflows.CredentialsView, error) {
	var v workflows.CredentialsView
	if err := s.authorize(ctx, actor, id, workflows.UpdateResumeReset, breach.RoleDPO); err != nil {
		return v, err
	}
	if u.Config != nil {
		if err := u.Config.Validate(); err != nil {
			return v, prefixField("config", err)
		}
	}
	wid, err := s.credentialsWorkflow(ctx, id)
	if err != nil {
		return v, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateResumeReset, requestID, u, &v)
	return v, err
}

// prefixField names the field of a configuration error within the request.
func prefixField(prefix string, err error) error {
	var be *breach.Error
	if errors.As(err, &be) {
		f := prefix
		if be.Field != "" {
			f += "." + be.Field
		}
		return breach.Invalid(f, "%s", be.Message)
	}
	return breach.Invalid(prefix, "%v", err)
}

// AccountsStatus is where the credential track stands: the track (its state,
// connector and last error), the counts by state and of completions from the
// counters, and the completions per day.
type AccountsStatus struct {
	store.AccountsProgress
	// CompletionRate is completed / done, in percent (0 before any reset).
	CompletionRate float64   `json:"completion_rate"`
	At             time.Time `json:"at"`
}

// AccountsStatus reads the progress of the incident's credential track.
func (s *Service) AccountsStatus(ctx context.Context, actor breach.Actor, id string) (AccountsStatus, error) {
	if err := s.authorize(ctx, actor, id, "read the accounts status", readers...); err != nil {
		return AccountsStatus{}, err
	}
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return AccountsStatus{}, err
	}
	p, err := s.Store.AccountsProgress(ctx, id)
	if err != nil {
		return AccountsStatus{}, err
	}
	st := AccountsStatus{AccountsProgress: p, At: s.now().UTC()}
	if p.Counts.Done > 0 {
		st.CompletionRate = float64(p.Counts.Completed) * 100 / float64(p.Counts.Done)
	}
	return st, nil
}

// CompletionReport is the body of the signed completion webhook.
type CompletionReport struct {
	Accounts []CompletedAccount `json:"accounts"`
}

// CompletedAccount is one account reported as having changed its password.
type CompletedAccount struct {
	AccountID string `json:"account_id"`
	// CompletedAt is when (RFC 3339); absent: when the report arrives.
	CompletedAt string `json:"completed_at,omitempty"`
}

// MaxCompletionBatch is the most accounts one completion report may carry.
const MaxCompletionBatch = 10_000

// RecordCompletions records a completion report the organisation signed
// (the signature was checked before: the actor is the webhook). Unknown
// account IDs are counted and their positions returned, never an error;
// malformed entries refuse the whole report, naming the field. Account IDs
// are matched through their blind index and appear in no answer, log or
// audit row.
func (s *Service) RecordCompletions(ctx context.Context, actor breach.Actor, id string, r CompletionReport) (store.CompletionResult, error) {
	if r.Accounts == nil {
		return store.CompletionResult{}, breach.Invalid("accounts", "is required (a list of {\"account_id\": ...})")
	}
	if len(r.Accounts) > MaxCompletionBatch {
		return store.CompletionResult{}, breach.Invalid("accounts", "at most %d accounts per report", MaxCompletionBatch)
	}
	if s.Vault == nil {
		return store.CompletionResult{}, errors.New("app: record completions: no data key configured (BREACH_DATA_KEY)")
	}
	report := make([]store.Completion, len(r.Accounts))
	for i, a := range r.Accounts {
		field := fmt.Sprintf("accounts[%d]", i)
		if a.AccountID == "" {
			return store.CompletionResult{}, breach.Invalid(field+".account_id", "is required")
		}
		// Normalised as the import normalised it; an ID that cannot be one
		// matches nothing and is counted unknown.
		acct, err := people.NormalizeAccountID(a.AccountID)
		if err != nil {
			acct = "\x00invalid"
		}
		report[i].AccountID = acct
		if a.CompletedAt != "" {
			t, err := time.Parse(time.RFC3339, a.CompletedAt)
			if err != nil {
				return store.CompletionResult{}, breach.Invalid(field+".completed_at", "must be an RFC 3339 date (e.g. 2026-11-25T09:30:00+01:00)")
			}
			report[i].CompletedAt = t
		}
	}
	return s.Store.RecordCompletions(ctx, s.Vault, actor, id, report)
}
