package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breach-engine/breach/internal/breach"
)

// ErrorTypePrefix starts the type of the application errors by which workflows
// reject updates: "breach.invalid", "breach.forbidden", "breach.conflict",
// "breach.not_found". The details hold the *breach.Error (code, field, message:
// rule names, never personal data).
const ErrorTypePrefix = "breach."

// reject builds the error a validator or handler returns when a rule is broken.
func reject(code breach.Code, field, format string, args ...any) error {
	e := &breach.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
	return temporal.NewApplicationErrorWithOptions(e.Error(), ErrorTypePrefix+string(code),
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{e}})
}

// DomainError finds the domain error in an update's or a workflow's failure, as
// the client receives it, so the HTTP layer can map its code to a status. It
// returns nil when err carries none.
func DomainError(err error) *breach.Error {
	if err == nil {
		return nil
	}
	var be *breach.Error
	if errors.As(err, &be) {
		return be
	}
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return nil
	}
	if d := errorDetail(ae); d != nil {
		return d
	}
	if code, ok := strings.CutPrefix(ae.Type(), ErrorTypePrefix); ok {
		return &breach.Error{Code: breach.Code(code), Message: ae.Message()}
	}
	return nil
}

// errorDetail decodes the *breach.Error a rejection carries. Details are
// payloads when they crossed the wire and Go values in the SDK's test
// environment, where a type mismatch panics: recover and report none.
func errorDetail(ae *temporal.ApplicationError) (out *breach.Error) {
	if !ae.HasDetails() {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	var d *breach.Error
	if ae.Details(&d) != nil || d == nil || d.Code == "" {
		return nil
	}
	return d
}

// requireRole checks the actor is identified and holds one of the roles.
func requireRole(a breach.Actor, roles ...breach.Role) error {
	if strings.TrimSpace(a.UserID) == "" {
		return reject(breach.ErrForbidden, "actor.user_id", "the actor is not identified")
	}
	for _, r := range roles {
		if a.Role == r {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return reject(breach.ErrForbidden, "actor.role", "role %q may not do this (needs %s)", a.Role, strings.Join(names, " or "))
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// Activity options. Updates give up after a few attempts so that the person
// waiting gets an answer; alarms retry until they are recorded.
func updateActivityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    5,
		},
	})
}

func alarmActivityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
		},
	})
}

// updateOpKey is the idempotency key of the current update's activity.
func updateOpKey(ctx workflow.Context) string {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if u := workflow.GetCurrentUpdateInfo(ctx); u != nil {
		return id + "/" + u.ID
	}
	return id
}

func runID(ctx workflow.Context) string { return workflow.GetInfo(ctx).WorkflowExecution.RunID }
