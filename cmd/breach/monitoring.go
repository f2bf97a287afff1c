package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/apiclient"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/webhook"
	"github.com/breach-engine/breach/workflows"
)

// `breach monitoring`: the follow-up after the forced password reset
// (DESIGN.md track 5): its state, the reminder letter, the reports, and the
// abuse signals an organisation's SIEM would send.
func newMonitoringCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "monitoring",
		Short: "Follow the monitoring after the password reset: reminders, abuse signals, alerts, reports",
	}
	cmd.AddCommand(newMonitoringStatusCmd(), newReminderCmd(), newMonitoringReportCmd(), newMonitoringSignalsCmd())
	return cmd
}

func newMonitoringStatusCmd() *cobra.Command {
	var incident string
	var watch, asJSON bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "status --incident ID [--watch]",
		Short: "Show the monitoring: its period, the reminder rounds and their counts, alerts and reports (DPO, auditors)",
		Long: `Prints the monitoring period, the reminder letter, each reminder round (due
time, state, people, sent, failed, unknown), the signals received against
their thresholds, the alerts raised and the reports stored (with the IDs that
breach monitoring report takes).

With --watch it prints one line each time something changes (a round moves,
an alert is raised, a report is stored) until the monitoring ends with its
final report, then the whole status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			if every <= 0 {
				return usagef("--every must be positive")
			}
			path := incidentPath(incident, "monitoring")
			if asJSON {
				return call(cmd, http.MethodGet, path, nil)
			}
			return runMonitoringStatus(cmd, path, watch, every)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().BoolVar(&watch, "watch", false, "print a line at each change until the monitoring ends")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer (once)")
	cmd.Flags().DurationVar(&every, "every", 5*time.Second, "refresh interval with --watch")
	return cmd
}

func runMonitoringStatus(cmd *cobra.Command, path string, watch bool, every time.Duration) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	read := func() (app.Monitoring, error) {
		var m app.Monitoring
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		if err := c.Do(ctx, http.MethodGet, path, nil, &m); err != nil {
			return m, fmt.Errorf("monitoring status: %w", err)
		}
		return m, nil
	}
	m, err := read()
	if err != nil {
		return err
	}
	if watch {
		last := ""
		m = watchUntil(cmd, m, every, read, monitoringEnded, func(m app.Monitoring) {
			if line := monitoringLine(m); line != last {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s  %s\n", time.Now().Format(time.TimeOnly), line)
				last = line
			}
		})
		if cmd.Context().Err() != nil {
			return nil
		}
	}
	printMonitoring(cmd.OutOrStdout(), m)
	return nil
}

// monitoringEnded: the final report is stored, or no monitoring workflow
// runs (not started yet: nothing to watch).
func monitoringEnded(m app.Monitoring) bool {
	return m.View == nil || slices.ContainsFunc(m.Reports, func(r breach.MonitoringReport) bool { return r.Final })
}

// monitoringLine is the one-line summary --watch prints when it changes.
func monitoringLine(m app.Monitoring) string {
	var b strings.Builder
	if m.View != nil {
		for i, r := range m.View.Rounds {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "round %d %s", r.Round, r.State)
			if r.Send != nil {
				fmt.Fprintf(&b, " (%s/%s sent)", humanInt(int64(r.Totals.Sent)), humanInt(r.People))
			}
		}
		if m.View.Closed {
			b.WriteString("; closing")
		}
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "alerts %d; reports %d", len(m.Alerts), len(m.Reports))
	return b.String()
}

const timeFormat = "2006-01-02 15:04"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeFormat)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func printMonitoring(w io.Writer, m app.Monitoring) {
	final := slices.IndexFunc(m.Reports, func(r breach.MonitoringReport) bool { return r.Final })
	v := m.View
	switch {
	case final >= 0:
		// The workflow may still answer for a moment after storing it.
		r := m.Reports[final]
		if r.Summary.EndedEarly {
			fmt.Fprintf(w, "monitoring: ended early (the incident closed) at %s; began %s, planned until %s (final report %d)\n",
				fmtTime(r.PeriodTo), fmtTime(r.Summary.Monitoring[0]), fmtTime(r.Summary.Monitoring[1]), r.Seq)
		} else {
			fmt.Fprintf(w, "monitoring: ended %s; began %s (final report %d)\n", fmtTime(r.Summary.Monitoring[1]), fmtTime(r.Summary.Monitoring[0]), r.Seq)
		}
	case v != nil:
		state := "running"
		if v.Closed {
			state = "closing (the incident closed: writing the final report)"
		}
		fmt.Fprintf(w, "monitoring: %s, %s to %s (%s)\n", state, fmtTime(v.StartedAt), fmtTime(v.EndsAt), days(v.EndsAt.Sub(v.StartedAt)))
		fmt.Fprintf(w, "next report: %s (%d written)\n", fmtTime(v.NextReport), v.Reports)
	default:
		fmt.Fprintln(w, "monitoring: not running (it starts with the forced password reset: breach accounts start)")
	}
	if v != nil {
		printReminders(w, v)
		printSignals(w, v)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(m.Alerts) == 0 {
		fmt.Fprintln(w, "alerts: none")
	} else {
		fmt.Fprintln(w, "alerts:")
		fmt.Fprintln(tw, "  RAISED\tKIND\tSIGNAL\tOBSERVED\tTHRESHOLD\tMAILED\tDRAFT")
		for _, a := range m.Alerts {
			draft := "-"
			if a.DraftSeq != nil {
				draft = fmt.Sprintf("complementary %d", *a.DraftSeq)
			} else if a.DraftError != "" {
				draft = "error: " + a.DraftError
			}
			signal := string(a.SignalKind)
			if signal == "" {
				signal = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(a.RaisedAt), a.Kind, signal,
				humanInt(a.Observed), humanInt(a.Threshold), fmtTimePtr(a.MailedAt), draft)
		}
		tw.Flush()
	}
	if len(m.Reports) == 0 {
		fmt.Fprintln(w, "reports: none")
		return
	}
	fmt.Fprintln(w, "reports (breach monitoring report --incident ID REPORT_ID):")
	fmt.Fprintln(tw, "  SEQ\tFINAL\tPERIOD\tMAILED\tID")
	for _, r := range m.Reports {
		final := "no"
		if r.Final {
			final = "yes"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s to %s\t%s\t%s\n", r.Seq, final, fmtTime(r.PeriodFrom), fmtTime(r.PeriodTo), fmtTimePtr(r.MailedAt), r.ID)
	}
	tw.Flush()
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return shortDuration(d)
}

// shortDuration is d without its zero minutes and seconds: 24h, not 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func printReminders(w io.Writer, v *workflows.MonitoringView) {
	if len(v.Reminders) == 0 {
		fmt.Fprintln(w, "reminder letter: none drafted (breach monitoring reminder draft)")
	} else {
		var parts []string
		for _, l := range v.Reminders {
			parts = append(parts, fmt.Sprintf("%s v%d %s", l.Language, l.Current.Version, l.State))
		}
		fmt.Fprintf(w, "reminder letter: %s\n", strings.Join(parts, ", "))
	}
	next := slices.IndexFunc(v.Rounds, func(r workflows.ReminderRound) bool {
		return r.State == workflows.RoundDue || r.State == workflows.RoundNoLetter
	})
	if next >= 0 {
		r := v.Rounds[next]
		wait := ""
		if r.State == workflows.RoundNoLetter {
			wait = " (overdue: waiting for an approved reminder letter)"
		}
		fmt.Fprintf(w, "next reminder round: %d at %s%s\n", r.Round, fmtTime(r.DueAt), wait)
	}
	if len(v.Rounds) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ROUND\tDUE\tSTATE\tSTARTED\tPEOPLE\tSENT\tFAILED\tUNKNOWN")
	for _, r := range v.Rounds {
		state := r.State
		if r.Late {
			state += " (late)"
		}
		people, sent, failed, unknown := "-", "-", "-", "-"
		if r.Send != nil || r.StartedAt != nil {
			people, sent, failed, unknown = humanInt(r.People), humanInt(int64(r.Totals.Sent)), humanInt(int64(r.Totals.Failed)), humanInt(int64(r.Totals.Unknown))
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Round, fmtTime(r.DueAt), state, fmtTimePtr(r.StartedAt), people, sent, failed, unknown)
	}
	tw.Flush()
}

func printSignals(w io.Writer, v *workflows.MonitoringView) {
	var parts []string
	for _, k := range breach.SignalKinds {
		th := v.Thresholds[k]
		limit := "off"
		if th.Count > 0 {
			limit = humanInt(th.Count)
			if th.Window > 0 {
				limit += " per " + shortDuration(th.Window)
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s (alert at %s)", k, humanInt(v.Signals[k]), limit))
	}
	fmt.Fprintf(w, "signals: %s\n", strings.Join(parts, ", "))
}

// newReminderCmd is `breach monitoring reminder`: the reminder letter, one
// per language, through the same draft -> approve (four-eyes) loop as the
// letter (breach letter).
func newReminderCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "reminder", Short: "Draft, approve, send back and list the reminder letter to people whose reset is pending"}

	var incident, lang, file, comment string
	var base, version int
	var asJSON bool

	draft := &cobra.Command{
		Use:   "draft --incident ID --lang fr|en --file FIELDS.json [--base-version V]",
		Short: "Write the reminder, or a new version of it (fields: subject, how_to_reset, helpline, helpline_hours)",
		Long: `Writes the reminder letter in one language (DPO or approver). The file holds
its fields; the rest (the reset is still pending, the phishing warning, the
DPO's contact) is fixed text:

  {"subject": "Rappel : changez votre mot de passe",
   "how_to_reset": "Rendez-vous sur ... et choisissez ...",
   "helpline": "+33 1 23 45 67 89", "helpline_hours": "du lundi au vendredi, 9 h - 18 h"}

Another person approves it: breach monitoring reminder approve.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			raw, err := readJSONFile(cmd, file)
			if err != nil {
				return err
			}
			var f breach.ReminderFields
			if err := decodeStrict(raw, &f); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			l, err := reminderLanguage(lang, f.Language)
			if err != nil {
				return err
			}
			f.Language = l
			u := workflows.SaveReminderUpdate{Language: l, BaseVersion: base, Fields: f}
			if err := call(cmd, http.MethodPost, incidentPath(incident, "reminders"), u); err != nil {
				return fmt.Errorf("draft the reminder: %w", err)
			}
			return nil
		},
	}
	draft.Flags().StringVar(&lang, "lang", "", "language of the reminder: fr or en (default: the file's \"language\")")
	draft.Flags().StringVar(&file, "file", "", "reminder fields, JSON, or - for standard input")
	draft.Flags().IntVar(&base, "base-version", 0, "the version this one replaces (0 for the first)")

	decide := func(approve bool) *cobra.Command {
		use, short := "approve", "Approve a reminder version (an approver who neither drafted nor edited it)"
		if !approve {
			use, short = "reject", "Send a reminder version back to its author, with a comment"
		}
		c := &cobra.Command{
			Use: use + " --incident ID --lang fr|en --version V [--comment TEXT]", Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if incident == "" {
					return usagef("--incident ID is required")
				}
				l, err := reminderLanguage(lang, "")
				if err != nil {
					return err
				}
				if version <= 0 {
					return breach.Invalid("--version", "is required (a positive version number: breach monitoring reminder list)")
				}
				if !approve && strings.TrimSpace(comment) == "" {
					return breach.Invalid("--comment", "is required: say what to change")
				}
				u := workflows.DecideLetterUpdate{Language: l, Version: version, Approve: approve, Comment: comment}
				if err := call(cmd, http.MethodPost, incidentPath(incident, "reminders", "decisions"), u); err != nil {
					return fmt.Errorf("%s the reminder (%s, version %d): %w", use, l, version, err)
				}
				return nil
			},
		}
		if !approve {
			c.Aliases = []string{"return"} // the word `breach letter` uses
		}
		c.Flags().StringVar(&lang, "lang", "", "language of the reminder: fr or en")
		c.Flags().IntVar(&version, "version", 0, "the reminder version decided on")
		c.Flags().StringVar(&comment, "comment", "", "comment for the author (required to send it back)")
		return c
	}

	list := &cobra.Command{
		Use: "list --incident ID [--json]", Short: "List every version of the reminder letter", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			path := incidentPath(incident, "reminders")
			if asJSON {
				return call(cmd, http.MethodGet, path, nil)
			}
			c, err := apiClient()
			if err != nil {
				return err
			}
			var ls []breach.LetterVersion
			if err := c.Do(cmd.Context(), http.MethodGet, path, nil, &ls); err != nil {
				return fmt.Errorf("list the reminders: %w", err)
			}
			printReminderVersions(cmd.OutOrStdout(), ls)
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer, with the fields")

	cmd.AddCommand(draft, decide(true), decide(false), list)
	for _, c := range cmd.Commands() {
		c.Flags().StringVar(&incident, "incident", "", "incident ID")
	}
	return cmd
}

// reminderLanguage is --lang, else the file's language; they must agree.
func reminderLanguage(flag string, fromFile breach.Language) (breach.Language, error) {
	l := breach.Language(flag)
	switch {
	case l == "" && fromFile == "":
		return "", breach.Invalid("--lang", "is required: fr or en")
	case l == "":
		l = fromFile
	case fromFile != "" && fromFile != l:
		return "", breach.Invalid("--lang", "says %q but the file's language is %q", l, fromFile)
	}
	if l != breach.French && l != breach.English {
		return "", breach.Invalid("--lang", "must be fr or en")
	}
	return l, nil
}

func printReminderVersions(w io.Writer, ls []breach.LetterVersion) {
	if len(ls) == 0 {
		fmt.Fprintln(w, "no reminder drafted yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LANG\tVERSION\tSTATE\tDRAFTED BY\tEDITED BY\tAPPROVED BY\tCREATED\tCOMMENT")
	for _, l := range ls {
		approver := l.ApprovedBy
		if approver == "" {
			approver = "-"
		}
		comment := l.Comment
		if comment == "" {
			comment = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Language, l.Version, l.State, l.DraftedBy, l.EditedBy, approver, fmtTime(l.CreatedAt), comment)
	}
	tw.Flush()
}

func newMonitoringReportCmd() *cobra.Command {
	var incident, out string
	cmd := &cobra.Command{
		Use:   "report --incident ID REPORT_ID [--out FILE]",
		Short: "Print a stored monitoring report as mailed to the DPO (HTML), checked against its stored hash",
		Long: `Fetches the report's HTML exactly as it was stored and mailed, checks its
SHA-256 against the hash recorded with it, and writes it to standard output
or to FILE. The report IDs are listed by breach monitoring status.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			return runMonitoringReport(cmd, incident, a[0], out)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&out, "out", "", "write the HTML to FILE instead of standard output")
	return cmd
}

func runMonitoringReport(cmd *cobra.Command, incident, reportID, out string) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	path := incidentPath(incident, "monitoring", "reports", url.PathEscape(reportID))
	var rep breach.MonitoringReport
	if err := c.Do(cmd.Context(), http.MethodGet, path, nil, &rep); err != nil {
		return fmt.Errorf("read report %s: %w", reportID, err)
	}
	html, err := c.Raw(cmd.Context(), http.MethodGet, path+"?format=html", nil)
	if err != nil {
		return fmt.Errorf("read report %s: %w", reportID, err)
	}
	// The hash is what an auditor relies on: a report that does not match
	// the one recorded when it was mailed is not handed over as if it were.
	sum := sha256.Sum256(html)
	if got := hex.EncodeToString(sum[:]); got != rep.ContentHash {
		return fmt.Errorf("read report %s: its HTML hashes to %s, not to the stored %s", reportID, got, rep.ContentHash)
	}
	if out == "" {
		_, err := cmd.OutOrStdout().Write(html)
		return err
	}
	if err := os.WriteFile(out, html, 0o600); err != nil {
		return fmt.Errorf("write report %s: %w", reportID, err)
	}
	final := ""
	if rep.Final {
		final = ", final"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "report %d%s (%s to %s) written to %s, sha256 %s (matches the stored hash)\n",
		rep.Seq, final, fmtTime(rep.PeriodFrom), fmtTime(rep.PeriodTo), out, rep.ContentHash)
	return nil
}

func newMonitoringSignalsCmd() *cobra.Command {
	var incident, file string
	cmd := &cobra.Command{
		Use:   "signals --incident ID --file SIGNALS.json",
		Short: "Send abuse signals to the signed webhook, as the organisation's SIEM would (a drill and testing aid)",
		Long: `Sends abuse signals to POST /api/v1/incidents/ID/signals, signed as the
organisation's systems sign them: the Breach-Signature header (t=...,v1=...),
HMAC-SHA256 under BREACH_INBOUND_SECRET (the same value as the server's).
Use it to rehearse the alerts, or to check a SIEM's wiring against what the
engine accepts. No API token is sent: the signature is the authentication.

  {"signals": [{"kind": "account_takeover", "count": 1,
                "observed_at": "2026-12-03T10:00:00+01:00", "account_ids": ["FT-42"]}]}

Kinds: suspicious_login, account_takeover, phishing_report, dark_web_mention.
The file is checked before anything is sent; a mistake is named by field
(signals[0].count). Account IDs are personal data: the server keeps only
their blind index. Each signed body is accepted once: the same file sent
again within the same second is refused as a replay; later, it is a new
report and is stored again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			raw, err := readJSONFile(cmd, file)
			if err != nil {
				return err
			}
			signals, err := parseSignals(raw, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return sendSignals(cmd, incident, signals)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&file, "file", "", "signals, JSON ({\"signals\": [...]}), or - for standard input")
	return cmd
}

// parseSignals decodes a signals document strictly, naming the field at
// fault (signals[2].observed_at), never quoting a value: the document may
// hold account IDs.
func parseSignals(raw []byte, now time.Time) ([]breach.AbuseSignal, error) {
	var doc struct {
		Signals []json.RawMessage `json:"signals"`
	}
	if err := decodeStrict(raw, &doc); err != nil {
		return nil, err
	}
	out := make([]breach.AbuseSignal, 0, len(doc.Signals))
	for i, r := range doc.Signals {
		// observed_at as text, so that a bad date is named by its field
		// (time.Time's own error names neither).
		var s struct {
			Kind       breach.SignalKind `json:"kind"`
			Count      int64             `json:"count"`
			ObservedAt string            `json:"observed_at"`
			AccountIDs []string          `json:"account_ids"`
		}
		if err := decodeStrict(r, &s); err != nil {
			var de *breach.Error
			if errors.As(err, &de) {
				return nil, breach.Invalid(fmt.Sprintf("signals[%d].%s", i, de.Field), "%s", de.Message)
			}
			return nil, err
		}
		sig := breach.AbuseSignal{Kind: s.Kind, Count: s.Count, AccountIDs: s.AccountIDs}
		if s.ObservedAt != "" {
			t, err := time.Parse(time.RFC3339, s.ObservedAt)
			if err != nil {
				return nil, breach.Invalid(fmt.Sprintf("signals[%d].observed_at", i), "must be an RFC 3339 time such as 2026-12-03T10:00:00+01:00")
			}
			sig.ObservedAt = t
		}
		out = append(out, sig)
	}
	if err := breach.ValidateSignals(out, now); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStrict decodes one JSON document refusing unknown fields, and names
// the field of a type mismatch without quoting the value.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		if dec.More() {
			return breach.Invalid("", "trailing data after the JSON document")
		}
		return nil
	case errors.As(err, &typeErr):
		return breach.Invalid(typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return breach.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	}
	return breach.Invalid("", "malformed JSON: %v", err)
}

// sendSignals posts the signals signed with BREACH_INBOUND_SECRET (every
// secret given while it rotates, as a sender does) and prints the counts the
// server stored.
func sendSignals(cmd *cobra.Command, incident string, signals []breach.AbuseSignal) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if len(cfg.InboundSecrets) == 0 {
		return usagef("BREACH_INBOUND_SECRET is not set: the signals are signed with the secret the server verifies them with")
	}
	body, err := json.Marshal(struct {
		Signals []breach.AbuseSignal `json:"signals"`
	}{signals})
	if err != nil {
		return fmt.Errorf("send signals: encode: %w", err)
	}
	// No API token: the endpoint authenticates the signature only, as it
	// would the organisation's own systems.
	c := apiclient.New(cfg.URL, "")
	raw, err := c.Raw(cmd.Context(), http.MethodPost, incidentPath(incident, "signals"), json.RawMessage(body),
		webhook.Header, webhook.SignAll(cfg.InboundSecrets, body, time.Now()))
	if err != nil {
		return fmt.Errorf("send signals: %w", err)
	}
	var res app.SignalsResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("send signals: decode the answer: %w", err)
	}
	var parts []string
	for _, c := range res.Counts {
		parts = append(parts, fmt.Sprintf("%s %s", c.Kind, humanInt(c.Count)))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "stored %d signal(s), batch %s: %s; monitoring %s\n", res.Signals, res.Batch, strings.Join(parts, ", "), res.Monitoring)
	return nil
}
