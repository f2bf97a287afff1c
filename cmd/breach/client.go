package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/apiclient"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// apiClient builds the API client from BREACH_URL and BREACH_TOKEN.
func apiClient() (*apiclient.Client, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, usagef("BREACH_TOKEN is not set: `breach dev` prints one token per role")
	}
	return apiclient.New(cfg.URL, cfg.Token), nil
}

// call sends one request and prints the JSON answer.
func call(cmd *cobra.Command, method, path string, body any, headers ...string) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	raw, err := c.Raw(cmd.Context(), method, path, body, headers...)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(raw)
	return err
}

// readJSONFile reads a JSON document from a file or standard input (-).
func readJSONFile(cmd *cobra.Command, file string) (json.RawMessage, error) {
	if file == "" {
		return nil, usagef("--file FILE|- is required")
	}
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, usagef("read %s: %v", file, err)
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if !json.Valid(raw) {
		return nil, usagef("%s is not a JSON document", file)
	}
	return raw, nil
}

func parseTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, breach.Invalid(flag, "is required")
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, breach.Invalid(flag, "must be an RFC 3339 time such as 2026-11-25T09:30:00+01:00")
	}
	return t, nil
}

func incidentPath(id string, rest ...string) string {
	p := "/api/v1/incidents/" + id
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func newIncidentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Open, assess, draft, approve, file and close incidents (through the API)"}

	var openFile string
	open := &cobra.Command{
		Use: "open --file FILE|-", Short: "Open an incident from a JSON document", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := readJSONFile(cmd, openFile)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodPost, "/api/v1/incidents", raw)
		},
	}
	open.Flags().StringVar(&openFile, "file", "", "incident document, or - for standard input")

	list := &cobra.Command{Use: "list", Short: "List incidents", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call(cmd, http.MethodGet, "/api/v1/incidents", nil) }}
	show := &cobra.Command{Use: "show ID", Short: "Show an incident with its deadlines, drafts, filings and purge date (purge.due_at, purge.purged_at)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error { return call(cmd, http.MethodGet, incidentPath(a[0]), nil) }}
	proposal := &cobra.Command{Use: "proposal ID", Short: "Show the engine's risk proposal for the incident", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return call(cmd, http.MethodGet, incidentPath(a[0], "proposal"), nil)
		}}

	var risk, exemption, reason string
	assess := &cobra.Command{
		Use: "assess ID --reason TEXT [--risk none|risk|high] [--exemption art34_3_a|b|c]", Args: cobra.ExactArgs(1),
		Short: "Confirm the proposed risk, or override it, with a reason",
		RunE: func(cmd *cobra.Command, a []string) error {
			u := workflows.AssessUpdate{Reason: reason}
			if risk != "" {
				r := breach.Risk(risk)
				u.Risk = &r
			}
			if exemption != "" {
				e := breach.Exemption(exemption)
				u.Exemption = &e
			}
			return call(cmd, http.MethodPost, incidentPath(a[0], "assessment"), u)
		},
	}
	assess.Flags().StringVar(&risk, "risk", "", "override: none, risk or high (default: confirm the proposal)")
	assess.Flags().StringVar(&exemption, "exemption", "", "Art. 34(3) ground: art34_3_a, art34_3_b or art34_3_c")
	assess.Flags().StringVar(&reason, "reason", "", "why (kept in the register, Art. 33(5))")

	var awareAt, awareReason string
	aware := &cobra.Command{
		Use: "aware-at ID --at TIME --reason TEXT", Short: "Move the awareness time (the Art. 33 clock)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			at, err := parseTime("--at", awareAt)
			if err != nil {
				return err
			}
			return call(cmd, http.MethodPost, incidentPath(a[0], "aware-at"), workflows.ChangeAwareAtUpdate{AwareAt: at, Reason: awareReason})
		},
	}
	aware.Flags().StringVar(&awareAt, "at", "", "new awareness time, RFC 3339")
	aware.Flags().StringVar(&awareReason, "reason", "", "justification")

	var regime, stage, draftFile, comment string
	var seq, base, version int
	keyFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&regime, "regime", "gdpr", "regime: gdpr or nis2")
		c.Flags().StringVar(&stage, "stage", "initial", "stage: initial, complementary, withdrawal, early_warning, notification, final_report")
		c.Flags().IntVar(&seq, "seq", 0, "sequence of a complementary filing (0 opens the next one when drafting)")
	}
	draft := &cobra.Command{
		Use: "draft ID --file FIELDS.json [--regime R --stage S --seq N --base-version V]", Args: cobra.ExactArgs(1),
		Short: "Write a dossier draft, or a new version of it (fields: language, nature, consequences, measures_taken, ...)",
		RunE: func(cmd *cobra.Command, a []string) error {
			raw, err := readJSONFile(cmd, draftFile)
			if err != nil {
				return err
			}
			var f breach.DraftFields
			if err := json.Unmarshal(raw, &f); err != nil {
				return usagef("%s: %v", draftFile, err)
			}
			u := workflows.SaveDraftUpdate{Stage: breach.StageCode(stage), Seq: seq, BaseVersion: base, Fields: f}
			return call(cmd, http.MethodPost, incidentPath(a[0], "regimes", regime, "drafts"), u)
		},
	}
	keyFlags(draft)
	draft.Flags().StringVar(&draftFile, "file", "", "draft fields, JSON, or - for standard input")
	draft.Flags().IntVar(&base, "base-version", 0, "the version this one replaces (0 for a new draft)")

	decide := func(approve bool) *cobra.Command {
		use, short := "approve", "Approve a draft version (four-eyes: not its author or last editor)"
		if !approve {
			use, short = "return", "Send a draft version back with a comment"
		}
		c := &cobra.Command{
			Use: use + " ID --version V [--regime R --stage S --seq N] [--comment TEXT]", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, a []string) error {
				if version <= 0 {
					return breach.Invalid("--version", "is required")
				}
				s := seq
				if s == 0 {
					s = 1
				}
				u := workflows.DecideDraftUpdate{Stage: breach.StageCode(stage), Seq: s, Version: version, Approve: approve, Comment: comment}
				return call(cmd, http.MethodPost, incidentPath(a[0], "regimes", regime, "decisions"), u)
			},
		}
		keyFlags(c)
		c.Flags().IntVar(&version, "version", 0, "the draft version decided on")
		c.Flags().StringVar(&comment, "comment", "", "comment for the author")
		return c
	}

	var filedAt, channel, reference, delayReasons string
	file := &cobra.Command{
		Use: "file ID --filed-at TIME --channel C --reference REF [--regime R --stage S --seq N]", Args: cobra.ExactArgs(1),
		Short: "Record the filing of the approved version with the authority's receipt reference",
		RunE: func(cmd *cobra.Command, a []string) error {
			at, err := parseTime("--filed-at", filedAt)
			if err != nil {
				return err
			}
			s := seq
			if s == 0 {
				s = 1
			}
			u := workflows.RecordFilingUpdate{Stage: breach.StageCode(stage), Seq: s, FiledAt: at, Channel: channel, Reference: reference, DelayReasons: delayReasons}
			return call(cmd, http.MethodPost, incidentPath(a[0], "regimes", regime, "filings"), u)
		},
	}
	keyFlags(file)
	file.Flags().StringVar(&filedAt, "filed-at", "", "when it was filed, RFC 3339")
	file.Flags().StringVar(&channel, "channel", "cnil_online", "how it was filed")
	file.Flags().StringVar(&reference, "reference", "", "the authority's receipt reference")
	file.Flags().StringVar(&delayReasons, "delay-reasons", "", "reasons for a filing past the deadline (GDPR Art. 33(1))")

	var summary string
	closeCmd := &cobra.Command{
		Use: "close ID --summary TEXT", Short: "Close the incident", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return call(cmd, http.MethodPost, incidentPath(a[0], "close"), workflows.CloseUpdate{Summary: summary})
		},
	}
	closeCmd.Flags().StringVar(&summary, "summary", "", "closing summary")

	var asJSON bool
	dossier := &cobra.Command{
		Use: "dossier ID DRAFT_VERSION_ID [--json]", Short: "Print the rendered dossier (HTML, or its JSON record) of a draft version", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			file := "dossier.html"
			if asJSON {
				file = "dossier.json"
			}
			return call(cmd, http.MethodGet, incidentPath(a[0], "drafts", a[1], file), nil)
		},
	}
	dossier.Flags().BoolVar(&asJSON, "json", false, "print the JSON export of the same record")
	audit := &cobra.Command{Use: "audit ID", Short: "Print the incident's audit rows", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return call(cmd, http.MethodGet, incidentPath(a[0], "audit"), nil)
		}}

	cmd.AddCommand(open, list, show, proposal, assess, aware, draft, decide(true), decide(false), file, closeCmd, dossier, audit)
	return cmd
}
