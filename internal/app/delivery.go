package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// The people track (Art. 34): letters drafted and approved under four-eyes,
// previewed, then sent to every person, with pause, resume and cancel, and
// the progress everyone can see. Changes go through the incident's People
// workflow (breach.PeopleWorkflowID), reads through Postgres.

// peopleWorkflow checks the incident exists and names its people workflow.
func (s *Service) peopleWorkflow(ctx context.Context, id string) (string, error) {
	if _, err := s.Store.GetIncident(ctx, id); err != nil {
		return "", err
	}
	return breach.PeopleWorkflowID(id), nil
}

// SaveLetter writes the first version of the letter in a language, or a new
// version of the current one (BaseVersion).
func (s *Service) SaveLetter(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.SaveLetterUpdate) (activities.LetterRef, error) {
	var ref activities.LetterRef
	if err := s.authorize(ctx, actor, id, workflows.UpdateSaveLetter, breach.RoleDPO, breach.RoleApprover); err != nil {
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
	wid, err := s.peopleWorkflow(ctx, id)
	if err != nil {
		return ref, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateSaveLetter, requestID, u, &ref)
	return ref, err
}

// DecideLetter approves or sends back a letter version. Four-eyes: the
// workflow refuses an approver who drafted the letter or edited the version.
func (s *Service) DecideLetter(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.DecideLetterUpdate) (workflows.LetterStatus, error) {
	var st workflows.LetterStatus
	if err := s.authorize(ctx, actor, id, workflows.UpdateDecideLetter, breach.RoleApprover); err != nil {
		return st, err
	}
	wid, err := s.peopleWorkflow(ctx, id)
	if err != nil {
		return st, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateDecideLetter, requestID, u, &st)
	return st, err
}

// Letters lists every version of the incident's letters.
func (s *Service) Letters(ctx context.Context, actor breach.Actor, id string) ([]breach.LetterVersion, error) {
	if err := s.authorize(ctx, actor, id, "read the letters", readers...); err != nil {
		return nil, err
	}
	return s.Store.Letters(ctx, id)
}

// LetterPreview is a letter rendered for one person.
type LetterPreview struct {
	LetterID    string          `json:"letter_id"`
	Language    breach.Language `json:"language"`
	Version     int             `json:"version"`
	State       string          `json:"state"`
	ContentHash string          `json:"content_hash"`
	PersonID    int64           `json:"person_id,omitempty"` // 0: the preview person
	Subject     string          `json:"subject"`
	HTML        []byte          `json:"-"`
	Text        []byte          `json:"-"`
}

// PreviewLetter renders a version of the letter in lang (0: the current one)
// for the preview person (templates.PreviewRecipient), or, for the DPO and
// approvers only, for the person with that ID of the incident's population.
// Nothing is recorded: it reads.
func (s *Service) PreviewLetter(ctx context.Context, actor breach.Actor, id string, lang breach.Language, version int, personID int64) (LetterPreview, error) {
	var p LetterPreview
	roles := readers
	action := "preview a letter"
	if personID != 0 {
		// A real person's letter shows their name and address: not for auditors.
		roles, action = []breach.Role{breach.RoleDPO, breach.RoleApprover}, "preview a letter for a person"
	}
	if err := s.authorize(ctx, actor, id, action, roles...); err != nil {
		return p, err
	}
	if lang != breach.French && lang != breach.English {
		return p, breach.Invalid("language", "must be fr or en")
	}
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil {
		return p, err
	}
	letter, err := s.Store.CurrentLetter(ctx, id, lang)
	if err != nil {
		return p, err
	}
	if version != 0 && version != letter.Version {
		all, err := s.Store.Letters(ctx, id)
		if err != nil {
			return p, err
		}
		found := false
		for _, l := range all {
			if l.Language == lang && l.Version == version {
				letter, found = l, true
			}
		}
		if !found {
			return p, breach.Errorf(breach.ErrNotFound, "no version %d of the letter in %q", version, lang)
		}
	}
	rcpt := templates.PreviewRecipient(lang)
	if personID != 0 {
		if s.Vault == nil {
			return p, errors.New("app: preview: no data key configured (BREACH_DATA_KEY)")
		}
		rs, err := s.Store.Recipients(ctx, s.Vault, id, personID, personID)
		if err != nil {
			return p, err
		}
		if len(rs) != 1 {
			return p, breach.Errorf(breach.ErrNotFound, "person %d not found in incident %s (or their contact data was purged)", personID, id)
		}
		rcpt = rs[0]
		if rcpt.Language != lang {
			return p, breach.Invalid("language", "person %d reads %q", personID, rcpt.Language)
		}
		// Opening a person's contact data is on record.
		err = s.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Audit(ctx, store.AuditEntry{Actor: actor, Action: "letter.previewed", IncidentID: id,
				After: map[string]any{"letter_id": letter.ID, "language": lang, "version": letter.Version, "person_id": personID}})
			return err
		})
		if err != nil {
			return p, fmt.Errorf("app: preview: audit: %w", err)
		}
	}
	r, err := templates.Letters{}.RenderLetter(ctx, templates.LetterInput{Incident: inc, Fields: letter.Fields, Version: letter.Version, Recipient: rcpt})
	if err != nil {
		return p, fmt.Errorf("app: preview: %w", err)
	}
	return LetterPreview{
		LetterID: letter.ID, Language: letter.Language, Version: letter.Version, State: string(letter.State),
		ContentHash: letter.ContentHash, PersonID: personID, Subject: r.Subject, HTML: r.HTML, Text: r.Text,
	}, nil
}

// StartSend starts sending the approved letters to every person of the
// incident. The workflow checks: an approved letter for every language
// present, and a reason unless the decided risk is high.
func (s *Service) StartSend(ctx context.Context, actor breach.Actor, id, requestID string, u workflows.StartSendUpdate) (workflows.SendStatus, error) {
	var st workflows.SendStatus
	if err := s.authorize(ctx, actor, id, workflows.UpdateStartSend, breach.RoleDPO); err != nil {
		return st, err
	}
	wid, err := s.peopleWorkflow(ctx, id)
	if err != nil {
		return st, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, workflows.UpdateStartSend, requestID, u, &st)
	return st, err
}

// Send control actions, by their update names.
var sendControls = map[string]bool{
	workflows.UpdatePauseSend: true, workflows.UpdateResumeSend: true, workflows.UpdateCancelSend: true,
}

// ControlSend pauses, resumes or cancels the send (action is one of
// workflows.UpdatePauseSend, UpdateResumeSend, UpdateCancelSend).
func (s *Service) ControlSend(ctx context.Context, actor breach.Actor, id, action, requestID string, u workflows.SendControlUpdate) (workflows.SendStatus, error) {
	var st workflows.SendStatus
	if !sendControls[action] {
		return st, breach.Invalid("action", "must be pause, resume or cancel")
	}
	if err := s.authorize(ctx, actor, id, action, breach.RoleDPO); err != nil {
		return st, err
	}
	wid, err := s.peopleWorkflow(ctx, id)
	if err != nil {
		return st, err
	}
	u.Actor = actor
	err = s.update(ctx, actor, id, wid, action, requestID, u, &st)
	return st, err
}

// PeopleStatus is where the telling of an incident's people stands: the
// ledger's counts by state, from the counters (never a count of the ledger).
type PeopleStatus struct {
	store.DeliveryStatus
	Total int64     `json:"total"` // ledger rows
	Done  int64     `json:"done"`  // sent, failed or unknown
	At    time.Time `json:"at"`    // when the counts were read
}

// PeopleStatus reads the counts by state of the incident's ledger.
func (s *Service) PeopleStatus(ctx context.Context, actor breach.Actor, id string) (PeopleStatus, error) {
	if err := s.authorize(ctx, actor, id, "read the people status", readers...); err != nil {
		return PeopleStatus{}, err
	}
	st, err := s.Store.DeliveryStatus(ctx, id)
	if err != nil {
		return PeopleStatus{}, err
	}
	return PeopleStatus{DeliveryStatus: st, Total: st.Counts.Total(), Done: st.Counts.Done(), At: s.now().UTC()}, nil
}
