package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/workflows"
)

// `breach accounts`: the credential track (the forced password reset of every
// affected account at the identity provider, then its completions).
func newAccountsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "accounts", Short: "Force the password reset of every affected account and follow the completions"}
	cmd.AddCommand(newAccountsStartCmd(), newAccountsStatusCmd(), newAccountsResumeCmd(), newAccountsPauseCmd())
	return cmd
}

// readConnectorConfig reads and checks an idp.Config locally, so that a
// mistake is named by field before anything is sent.
func readConnectorConfig(cmd *cobra.Command, file string) (*idp.Config, error) {
	if file == "" {
		return nil, usagef("--config FILE|- is required")
	}
	raw, err := readJSONFile(cmd, file)
	if err != nil {
		return nil, err
	}
	cfg, err := idp.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &cfg, nil
}

func newAccountsStartCmd() *cobra.Command {
	var incident, config string
	var opts workflows.ResetOptions
	cmd := &cobra.Command{
		Use:   "start --incident ID --config FILE|-",
		Short: "Start the forced reset of every affected account (DPO)",
		Long: `Starts the credential track of the incident: every person imported with an
account_id gets a forced password reset and their sessions ended at the
identity provider, in batches, rate-limited. No approval is needed and the
letters need not have gone out.

The configuration (JSON, from FILE or standard input) chooses the connector
and references its secrets, never holding them (internal/idp):

  {"kind": "webhook", "webhook": {"url": "https://idp.example.org/breach/accounts",
                                  "secret": "env:ACME_IDP_WEBHOOK_SECRET"}}
  {"kind": "keycloak", "keycloak": {"base_url": "https://sso.example.org", "realm": "job-seekers",
                                    "client_id": "breach-engine", "client_secret": "file:/run/secrets/kc"}}
  {"kind": "sql", "sql": {"dsn": "env:ACME_USERS_DSN",
                          "force_reset": "UPDATE users SET must_reset = true WHERE login = @account_id",
                          "revoke_sessions": "DELETE FROM sessions WHERE login = @account_id",
                          "status": "SELECT NOT must_reset FROM users WHERE login = @account_id"}}

The workers check it against the live provider first: a misconfiguration is
refused at once. One found later pauses the track with the error shown
(breach accounts status); fix it and run breach accounts resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			cfg, err := readConnectorConfig(cmd, config)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodPost, incidentPath(incident, "accounts", "reset"),
				workflows.StartResetUpdate{Config: cfg, Options: opts})
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&config, "config", "", "connector configuration (JSON file, or - for standard input)")
	cmd.Flags().Float64Var(&opts.Rate, "rate", 0, "most accounts per second at the provider (default 500)")
	cmd.Flags().IntVar(&opts.Partitions, "partitions", 0, "partitions working side by side (default 8)")
	cmd.Flags().DurationVar(&opts.PollInterval, "poll-interval", 0, "time between two status polls (default 6h)")
	cmd.Flags().DurationVar(&opts.PollFor, "poll-for", 0, "how long after the start completions are polled (default 2160h, 90 days)")
	return cmd
}

func newAccountsResumeCmd() *cobra.Command {
	var incident, config string
	cmd := &cobra.Command{
		Use:   "resume --incident ID [--config FILE|-]",
		Short: "Resume a paused reset, with a corrected connector configuration or the stored one (DPO)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			var u workflows.ResumeResetUpdate
			if config != "" {
				cfg, err := readConnectorConfig(cmd, config)
				if err != nil {
					return err
				}
				u.Config = cfg
			}
			return call(cmd, http.MethodPost, incidentPath(incident, "accounts", "reset", "resume"), u)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&config, "config", "", "corrected connector configuration (JSON file, or -)")
	return cmd
}

func newAccountsPauseCmd() *cobra.Command {
	var incident, reason string
	cmd := &cobra.Command{
		Use:   "pause --incident ID --reason TEXT",
		Short: "Pause the reset (DPO)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" || strings.TrimSpace(reason) == "" {
				return usagef("--incident ID and --reason TEXT are required")
			}
			return call(cmd, http.MethodPost, incidentPath(incident, "accounts", "reset", "pause"), workflows.PauseResetUpdate{Reason: reason})
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	return cmd
}

func newAccountsStatusCmd() *cobra.Command {
	var incident string
	var watch, asJSON bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "status --incident ID [--watch]",
		Short: "Show the reset's progress: accounts by state, completions, per day, the connector's error",
		Long: `Prints the track's state, the accounts by state (pending, running, done,
failed), how many completed their reset, the completions per day, and the
connector's error when it paused the track. With --watch it prints a line
every few seconds until every account is handled or the track pauses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			if every <= 0 {
				return usagef("--every must be positive")
			}
			path := incidentPath(incident, "accounts", "status")
			if asJSON {
				return call(cmd, http.MethodGet, path, nil)
			}
			return runAccountsStatus(cmd, path, watch, every)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().BoolVar(&watch, "watch", false, "print the progress until every account is handled")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer (once)")
	cmd.Flags().DurationVar(&every, "every", 2*time.Second, "refresh interval with --watch")
	return cmd
}

func runAccountsStatus(cmd *cobra.Command, path string, watch bool, every time.Duration) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	read := func() (app.AccountsStatus, error) {
		var st app.AccountsStatus
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		if err := c.Do(ctx, http.MethodGet, path, nil, &st); err != nil {
			return st, fmt.Errorf("accounts status: %w", err)
		}
		return st, nil
	}
	st, err := read()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !watch {
		printAccountsStatus(out, st)
		return nil
	}
	st = watchUntil(cmd, st, every, read, resetSettled, func(st app.AccountsStatus) {
		c := st.Counts
		fmt.Fprintf(cmd.ErrOrStderr(), "%s  done %s / %s  failed %s  pending %s  running %s\n", time.Now().Format(time.TimeOnly),
			humanInt(c.Done), humanInt(c.Total()), humanInt(c.Failed), humanInt(c.Pending), humanInt(c.Running))
	})
	if cmd.Context().Err() != nil {
		return nil
	}
	printAccountsStatus(out, st)
	return nil
}

// resetSettled: no track, or it is not running any more (paused, polling,
// ended).
func resetSettled(st app.AccountsStatus) bool {
	return st.Track == nil || st.Track.State != breach.TrackRunning
}

func printAccountsStatus(w io.Writer, st app.AccountsStatus) {
	if st.Track == nil {
		fmt.Fprintln(w, "the reset was not started")
		return
	}
	tr := st.Track
	fmt.Fprintf(w, "reset: %s (round %d, %s connector, started %s by %s)\n", tr.State, tr.Round, connectorKind(tr.Config),
		tr.StartedAt.Local().Format(time.DateTime), tr.StartedBy)
	if tr.LastError != "" {
		fmt.Fprintf(w, "  connector error: %s\n", tr.LastError)
	}
	if tr.PausedReason != "" {
		fmt.Fprintf(w, "  paused: %s\n", tr.PausedReason)
	}
	c := st.Counts
	for _, row := range []struct {
		name string
		n    int64
	}{{"accounts", c.Total()}, {"pending", c.Pending}, {"running", c.Running}, {"done", c.Done}, {"failed", c.Failed}, {"completed", c.Completed}} {
		fmt.Fprintf(w, "  %-9s %s\n", row.name, humanInt(row.n))
	}
	if c.Done > 0 {
		fmt.Fprintf(w, "  completion rate %.1f%% of the accounts reset\n", st.CompletionRate)
	}
	if tr.PollError != "" {
		fmt.Fprintf(w, "  status poll error: %s\n", tr.PollError)
	}
	for _, d := range st.Daily {
		fmt.Fprintf(w, "  %s  %s completed\n", d.Day, humanInt(d.Completed))
	}
}

func connectorKind(cfg json.RawMessage) string {
	var c struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(cfg, &c) != nil || c.Kind == "" {
		return "unknown"
	}
	return c.Kind
}
