package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// ErrorTypePrefix starts the type of the non-retryable application errors by
// which activities report a failure that retrying cannot fix: "breach.invalid",
// "breach.not_found", "breach.conflict", "breach.forbidden". The error's
// details hold the *breach.Error. It is the same prefix as the workflows'
// rejections (workflows.ErrorTypePrefix), so one decoder reads both.
const ErrorTypePrefix = "breach."

// ErrorType is the application error type for a domain error code.
func ErrorType(c breach.Code) string { return ErrorTypePrefix + string(c) }

// do runs one activity's change through store.Do with the workflow execution
// of the activity (or, outside an activity, the incident's workflow ID and the
// input's run ID) for the audit rows.
func (a *Activities) do(ctx context.Context, name, opKey, runID, incidentID string, result any, fn func(ctx context.Context, tx *store.Tx) (any, error)) error {
	if opKey == "" {
		return a.fail(ctx, name, incidentID, breach.Invalid("op_key", "is required"))
	}
	op := store.Op{Key: opKey, RunID: runID}
	if incidentID != "" {
		op.WorkflowID = breach.WorkflowID(incidentID)
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		op.WorkflowID, op.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	}
	replayed, err := a.Store.Do(ctx, op, result, fn)
	if err != nil {
		return a.fail(ctx, name, incidentID, err)
	}
	if replayed {
		a.logger().DebugContext(ctx, "activity already applied; returning its stored result",
			"activity", name, "incident_id", incidentID, "op_key", opKey)
	}
	return nil
}

// fail turns errors that retrying cannot fix (the domain errors) into
// non-retryable application errors; others stay retryable. Messages come from
// the store and the domain, which name fields and IDs, never personal data.
func (a *Activities) fail(ctx context.Context, name, incidentID string, err error) error {
	var be *breach.Error
	if errors.As(err, &be) && be.Code != breach.ErrInternal {
		a.logger().InfoContext(ctx, "activity refused", "activity", name, "incident_id", incidentID, "code", be.Code, "error", be.Error())
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", name, be.Error()), ErrorType(be.Code), err, be)
	}
	a.logger().WarnContext(ctx, "activity failed", "activity", name, "incident_id", incidentID, "error", err)
	return fmt.Errorf("%s: %w", name, err)
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}
