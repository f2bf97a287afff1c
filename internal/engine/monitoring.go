package engine

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/templates"
	"github.com/breach-engine/breach/workflows"
)

// ReminderRenderer renders the reminders with templates.Reminders for the
// activities.
type ReminderRenderer struct{}

var _ activities.ReminderRenderer = ReminderRenderer{}

// RenderReminder renders one person's reminder.
func (ReminderRenderer) RenderReminder(ctx context.Context, in activities.ReminderInput) (activities.RenderedLetter, error) {
	r, err := templates.Reminders{}.RenderReminder(ctx, templates.ReminderInput{
		Incident: in.Incident, Fields: in.Fields, Version: in.Version, Recipient: in.Recipient,
	})
	if err != nil {
		return activities.RenderedLetter{}, err
	}
	return activities.RenderedLetter{Subject: r.Subject, HTML: r.HTML, Text: r.Text}, nil
}

// ContentHash is templates.ReminderContentHash.
func (ReminderRenderer) ContentHash(incident breach.Incident, fields breach.ReminderFields, version int) string {
	return templates.ReminderContentHash(incident, fields, version)
}

// ComplementaryOpener opens complementary filing drafts through the Temporal
// client: an Update of the incident's GDPR regime workflow. A workflow can
// only signal another one; an Update, unlike a signal, runs the regime's own
// validator (stage rules: the initial notification must be filed, the
// incident open), returns the draft it made or why it refused, and is
// deduplicated by its update ID, so the activity that sends it may be
// retried without opening two drafts. The regime workflow needs no handler
// of its own for the monitoring track.
type ComplementaryOpener struct {
	Client client.Client
}

var _ activities.ComplementaryOpener = ComplementaryOpener{}

// OpenComplementary opens the next complementary draft with the fields.
func (o ComplementaryOpener) OpenComplementary(ctx context.Context, incidentID, updateID string, fields breach.DraftFields) (int, error) {
	h, err := o.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: breach.RegimeWorkflowID(incidentID, breach.RegimeGDPR),
		UpdateName: workflows.UpdateSaveDraft,
		UpdateID:   updateID,
		Args: []any{workflows.SaveDraftUpdate{
			Actor: breach.MonitoringActor, Stage: breach.StageComplementary, Fields: fields,
		}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var ref activities.DraftRef
	if err == nil {
		err = h.Get(ctx, &ref)
	}
	if err == nil {
		return ref.Key.Seq, nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return 0, breach.Errorf(breach.ErrConflict, "the incident's GDPR regime workflow is not running")
	}
	if de := workflows.DomainError(err); de != nil {
		return 0, de
	}
	return 0, fmt.Errorf("engine: open complementary draft: %w", err)
}
