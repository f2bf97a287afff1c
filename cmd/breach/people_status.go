package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

func init() {
	peopleSubcommands = append(peopleSubcommands, newPeopleStatusCmd, newPeopleSendCmd,
		func() *cobra.Command { return newSendControlCmd("pause") },
		func() *cobra.Command { return newSendControlCmd("resume") },
		func() *cobra.Command { return newSendControlCmd("cancel") })
}

func newPeopleStatusCmd() *cobra.Command {
	var incident string
	var watch, asJSON bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "status --incident ID [--watch]",
		Short: "Show how far the letters to the people have gone: counts by state, progress, rate, ETA",
		Long: `Prints the ledger's counts by state (pending, sending, sent, failed,
unknown) as the server keeps them. With --watch it redraws a progress bar
(sent + failed + unknown over the total), the rate and the time left, every
second, until nothing is pending or being sent and the send is no longer
running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			if every <= 0 {
				return usagef("--every must be positive")
			}
			return runPeopleStatus(cmd, incident, watch, asJSON, every)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().BoolVar(&watch, "watch", false, "redraw every second until the send is done")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer (once)")
	cmd.Flags().DurationVar(&every, "every", time.Second, "refresh interval with --watch")
	return cmd
}

func runPeopleStatus(cmd *cobra.Command, incident string, watch, asJSON bool, every time.Duration) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	path := incidentPath(incident, "people", "status")
	if asJSON {
		return call(cmd, http.MethodGet, path, nil)
	}
	read := func() (app.PeopleStatus, error) {
		var st app.PeopleStatus
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := c.Do(rctx, http.MethodGet, path, nil, &st)
		return st, err
	}
	st, err := read()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !watch {
		printStatus(out, st)
		return nil
	}
	bar := newStatusBar(cmd.ErrOrStderr())
	bar.draw(st, false)
	t := time.NewTicker(every)
	defer t.Stop()
	for !sendDone(st) {
		select {
		case <-ctx.Done():
			bar.draw(st, true)
			return nil
		case <-t.C:
		}
		next, err := read()
		if err != nil {
			// A blip of the server does not end the watch; say it and go on.
			fmt.Fprintf(cmd.ErrOrStderr(), "\nbreach: people status: %v\n", err)
			continue
		}
		st = next
		bar.draw(st, false)
	}
	bar.draw(st, true)
	printStatus(out, st)
	return nil
}

// sendDone: nothing pending or being sent, and the send is not running (a
// paused send waits with rows pending; a cancelled one leaves them).
func sendDone(st app.PeopleStatus) bool {
	if st.Send == nil {
		return true
	}
	switch st.Send.State {
	case breach.SendCancelled, breach.SendCompleted:
		return true
	}
	return st.Total > 0 && st.Counts.Pending == 0 && st.Counts.Sending == 0 && st.Send.State != breach.SendPaused &&
		st.Done == max(st.Total, st.People)
}

func printStatus(w io.Writer, st app.PeopleStatus) {
	c := st.Counts
	if st.Send == nil {
		fmt.Fprintf(w, "no send started for incident %s\n", st.IncidentID)
		return
	}
	fmt.Fprintf(w, "send %d: %s (policy %s, started %s)\n", st.Send.Seq, st.Send.State, st.Send.Policy,
		st.Send.StartedAt.Local().Format(time.DateTime))
	fmt.Fprintf(w, "  people   %s\n", humanInt(st.People))
	for _, row := range []struct {
		name string
		n    int64
	}{{"pending", c.Pending}, {"sending", c.Sending}, {"sent", c.Sent}, {"failed", c.Failed}, {"unknown", c.Unknown}} {
		fmt.Fprintf(w, "  %-8s %s\n", row.name, humanInt(row.n))
	}
}

// statusBar draws the progress of a send: done over total, the rate over the
// last readings, the time left.
type statusBar struct {
	w       io.Writer
	tty     bool
	samples []sample // the last readings, for the rate
	last    time.Time
}

type sample struct {
	at   time.Time
	done int64
}

func newStatusBar(w io.Writer) *statusBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &statusBar{w: w, tty: tty}
}

// rateWindow is how far back the rate looks.
const rateWindow = 10 * time.Second

func (b *statusBar) draw(st app.PeopleStatus, final bool) {
	total := max(st.Total, st.People)
	done := st.Done
	now := st.At
	if now.IsZero() {
		now = time.Now()
	}
	b.samples = append(b.samples, sample{at: now, done: done})
	for len(b.samples) > 2 && now.Sub(b.samples[0].at) > rateWindow {
		b.samples = b.samples[1:]
	}
	rate := 0.0
	if first := b.samples[0]; now.Sub(first.at) > 0 {
		rate = float64(done-first.done) / now.Sub(first.at).Seconds()
	}
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	state := "no send"
	if st.Send != nil {
		state = string(st.Send.State)
	}
	line := fmt.Sprintf("%s/%s  sent %s  failed %s  unknown %s  %s/s", humanInt(done), humanInt(total),
		humanInt(st.Counts.Sent), humanInt(st.Counts.Failed), humanInt(st.Counts.Unknown), humanInt(int64(rate)))
	switch {
	case final || frac >= 1:
		line += "  " + state
	case rate > 0:
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += "  ETA " + eta.Round(time.Second).String()
	default:
		line += "  " + state
	}
	if !b.tty {
		// A log, not a terminal: a line every few seconds.
		if final || b.last.IsZero() || time.Since(b.last) >= 5*time.Second {
			fmt.Fprintf(b.w, "breach: people: %3d%%  %s\n", int(frac*100), line)
			b.last = time.Now()
		}
		return
	}
	const width = 30
	n := int(frac * width)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(b.w, "\r[%s%s] %3d%%  %s\x1b[K%s", strings.Repeat("=", n), strings.Repeat(" ", width-n), int(frac*100), line, end)
}

func newPeopleSendCmd() *cobra.Command {
	var incident, reason, policy string
	var opts workflows.SendOptions
	cmd := &cobra.Command{
		Use:   "send --incident ID [--reason TEXT] [--policy resend|hold]",
		Short: "Start sending the approved letters to every person of the incident (DPO)",
		Long: `Starts the send: every person gets the approved letter of their language,
exactly once. It needs an approved letter for every language present among
the people, and --reason unless the decided risk is high (Art. 34(1)). From
then on the list of people is frozen. --policy says what becomes of a message
whose outcome is unknown (the worker died while sending it): resend it with
the same Message-ID (default) or hold it for a person to decide. Follow it
with 'breach people status --incident ID --watch'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			u := workflows.StartSendUpdate{Reason: reason, Policy: breach.UnknownPolicy(policy), Options: opts}
			return call(cmd, http.MethodPost, incidentPath(incident, "people", "send"), u)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&reason, "reason", "", "why the people are told when the decided risk is not high")
	cmd.Flags().StringVar(&policy, "policy", "", "resend (default) or hold: what to do with a message whose outcome is unknown")
	cmd.Flags().IntVar(&opts.Partitions, "partitions", 0, "ranges of people sent in parallel (default 8)")
	cmd.Flags().IntVar(&opts.BatchSize, "batch-size", 0, "people per batch (default 1000)")
	return cmd
}

func newSendControlCmd(action string) *cobra.Command {
	var incident, reason string
	short := map[string]string{
		"pause":  "Pause the send (DPO): batches stop within a few messages; resume continues",
		"resume": "Resume a paused send (DPO)",
		"cancel": "Cancel the send (DPO, with a reason): the people not yet told stay pending",
	}[action]
	cmd := &cobra.Command{
		Use:   action + " --incident ID [--reason TEXT]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			if action == "cancel" && strings.TrimSpace(reason) == "" {
				return usagef("--reason is required to cancel")
			}
			return call(cmd, http.MethodPost, incidentPath(incident, "people", "send", action), workflows.SendControlUpdate{Reason: reason})
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	return cmd
}
