// Command breach is the breach-notification engine: one binary for the HTTP
// server, the Temporal worker, migrations, the all-in-one dev mode and the
// commands a DPO, an approver or an auditor runs against the API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/config"
)

// Exit statuses: 2 for bad input (a field is named), 1 for anything else.
const (
	exitError   = 1
	exitInvalid = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "breach:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var usage *usageError
	if errors.As(err, &usage) || breach.ErrorCode(err) == breach.ErrInvalid {
		return exitInvalid
	}
	return exitError
}

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "breach",
		Short: "Breach-notification engine: GDPR Art. 33/34 deadlines, dossiers, approvals and audit on Temporal and Postgres",
		Long: `breach runs a personal-data breach from awareness to the authority's receipt:
the 72-hour clock of GDPR Art. 33, risk assessment (ENISA + EDPB), dossiers
approved under four-eyes, filings, reminders and escalations, and a hash-chained
audit log.

Start everything locally with 'breach dev' (add --demo for a sample incident).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.SetHelpTemplate(root.HelpTemplate() + "\n" + config.Help())
	root.AddCommand(
		newDevCmd(), newServeCmd(), newWorkerCmd(), newMigrateCmd(),
		newAssessCmd(), newIncidentCmd(), newRegisterCmd(), newAuditCmd(), newUserCmd(),
		newPeopleCmd(), newLetterCmd(), newAccountsCmd(), newMonitoringCmd(),
	)
	return root
}

// loadConfig reads BREACH_* and warns about unknown BREACH_ names (typos).
func loadConfig() (config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return cfg, &usageError{err.Error()}
	}
	for _, name := range config.Unknown(os.Environ()) {
		fmt.Fprintf(os.Stderr, "breach: warning: unknown variable %s (see breach --help)\n", name)
	}
	return cfg, nil
}
