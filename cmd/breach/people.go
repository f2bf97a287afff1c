package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/people"
)

// peopleSubcommands lets other files add commands under `breach people`.
var peopleSubcommands []func() *cobra.Command

func newPeopleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "people", Short: "The affected people of an incident: import them, generate a synthetic population, send them the letter"}
	cmd.AddCommand(newPeopleImportCmd(), newPeopleGenerateCmd())
	for _, f := range peopleSubcommands {
		cmd.AddCommand(f())
	}
	return cmd
}

func newPeopleImportCmd() *cobra.Command {
	var incident, rejectsFile, format string
	var skipInvalid, asJSON bool
	cmd := &cobra.Command{
		Use:   "import --incident ID [--skip-invalid] [--rejects FILE] FILE",
		Short: "Stream a CSV or JSONL file (gzip accepted) of affected people to the server",
		Long: `Streams FILE (or - for standard input) to the server, which validates,
normalises, seals and loads it in one transaction. A CSV file has a header
naming its columns: email (required), name or first_name and last_name, phone,
language (fr or en, default fr), account_id. A JSONL file has one object per
line with the same keys. gzip is recognised by its content.

By default the import is all-or-nothing: one rejected row and nothing loads.
With --skip-invalid the valid rows load. Rejected rows are reported by line
number and reason (never their content) and written to --rejects FILE as CSV.

Progress (rows and bytes sent, rows/s, ETA) goes to standard error: a bar on a
terminal, a line every few seconds otherwise. The summary goes to standard
output.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if incident == "" {
				return usagef("--incident ID is required")
			}
			if _, err := people.ParseFormat(format); err != nil {
				return usagef("--format: must be csv or jsonl")
			}
			return runImport(cmd, incident, args[0], format, skipInvalid, rejectsFile, asJSON)
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "incident ID")
	cmd.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "load the valid rows when some are rejected")
	cmd.Flags().StringVar(&rejectsFile, "rejects", "", "write the rejected rows (line, reason) to this CSV file")
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: detected)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's JSON answer instead of the summary")
	return cmd
}

func runImport(cmd *cobra.Command, incident, file, format string, skipInvalid bool, rejectsFile string, asJSON bool) error {
	c, err := apiClient()
	if err != nil {
		return err
	}
	var in io.Reader = cmd.InOrStdin()
	size := int64(-1)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usagef("read %s: %v", file, err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in = f
	}
	br := bufio.NewReaderSize(in, 256<<10)
	magic, _ := br.Peek(2)
	gz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	counter := newSendCounter(br, gz)
	defer counter.close()

	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	if skipInvalid {
		q.Set("skip_invalid", "true")
	}
	u := c.BaseURL + "/api/v1/incidents/" + url.PathEscape(incident) + "/people/import"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, u, counter)
	if err != nil {
		return fmt.Errorf("people import: %w", err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	// The server checks the role and the incident before reading: with
	// 100-continue a refused import sends nothing.
	req.Header.Set("Expect", "100-continue")

	bar := newProgress(cmd.ErrOrStderr(), size, gz, format == "jsonl" || (format == "" && looksJSONL(br, gz)))
	stop := bar.run(counter)
	client := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, ExpectContinueTimeout: 5 * time.Second,
	}}
	start := time.Now()
	resp, err := client.Do(req)
	stop()
	if err != nil {
		return fmt.Errorf("people import: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("people import: read the answer: %w", err)
	}
	var answer struct {
		Error *breach.Error `json:"error"`
		app.ImportPeopleResult
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("people import: HTTP %d", resp.StatusCode)
	}
	if len(answer.Rejects) > 0 {
		if err := reportRejects(cmd, answer.ImportPeopleResult, rejectsFile); err != nil {
			return err
		}
	}
	if resp.StatusCode/100 != 2 {
		if answer.Error != nil {
			return answer.Error
		}
		return fmt.Errorf("people import: HTTP %d", resp.StatusCode)
	}
	if asJSON {
		_, err := cmd.OutOrStdout().Write(raw)
		return err
	}
	r := answer.ImportPeopleResult
	elapsed := time.Since(start)
	fmt.Fprintf(cmd.OutOrStdout(), "imported: loaded %d, merged %d, rejected %d (%s%s, %s, %s, %s rows/s)\n",
		r.Loaded, r.Merged, r.Rejected, r.Format, map[bool]string{true: "+gzip"}[r.Gzip], r.Encoding,
		elapsed.Round(100*time.Millisecond), humanInt(int64(float64(r.Loaded+r.Merged+r.Rejected)/max(elapsed.Seconds(), 0.001))))
	if r.Loaded > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "person ids %d to %d\n", r.FirstID, r.LastID)
	}
	return nil
}

// looksJSONL peeks at the file's first byte (decompressed for gzip), as the
// server detects the format: '{' is JSON Lines, which has no header line.
func looksJSONL(br *bufio.Reader, gz bool) bool {
	head, _ := br.Peek(64 << 10)
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		buf := make([]byte, 512)
		n, _ := io.ReadFull(zr, buf)
		head = buf[:n]
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	return len(head) > 0 && head[0] == '{'
}

// reportRejects writes the rejects to a CSV file, or the first few to stderr.
func reportRejects(cmd *cobra.Command, r app.ImportPeopleResult, file string) error {
	more := ""
	if r.RejectsTruncated {
		more = fmt.Sprintf(" (the server lists the first %d of %d)", len(r.Rejects), r.Rejected)
	}
	if file == "" {
		errw := cmd.ErrOrStderr()
		for i, rj := range r.Rejects {
			if i == 10 {
				fmt.Fprintf(errw, "... %d more: use --rejects FILE for the list\n", r.Rejected-10)
				break
			}
			fmt.Fprintf(errw, "line %d: %s\n", rj.Line, rj.Reason)
		}
		return nil
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"line", "reason"})
	for _, rj := range r.Rejects {
		_ = w.Write([]string{strconv.FormatInt(rj.Line, 10), rj.Reason})
	}
	w.Flush()
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("people import: write rejects: %w", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d rejected row(s) written to %s%s\n", len(r.Rejects), file, more)
	return nil
}

// sendCounter counts the bytes the HTTP client reads from the file and the
// lines they hold. For a gzip file the lines are counted by decompressing a
// copy of the stream on the side.
type sendCounter struct {
	r     io.Reader
	bytes atomic.Int64
	lines atomic.Int64
	pw    *io.PipeWriter
	done  chan struct{}
	once  sync.Once
}

func newSendCounter(r io.Reader, gz bool) *sendCounter {
	c := &sendCounter{r: r}
	if gz {
		pr, pw := io.Pipe()
		c.pw, c.done = pw, make(chan struct{})
		go func() {
			defer close(c.done)
			zr, err := gzip.NewReader(pr)
			if err == nil {
				buf := make([]byte, 64<<10)
				for {
					n, err := zr.Read(buf)
					c.lines.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
					if err != nil {
						break
					}
				}
			}
			_, _ = io.Copy(io.Discard, pr) // never block the upload
		}()
	}
	return c
}

func (c *sendCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bytes.Add(int64(n))
	if c.pw != nil {
		_, _ = c.pw.Write(p[:n])
		if err != nil {
			c.close()
		}
	} else {
		c.lines.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	}
	return n, err
}

func (c *sendCounter) close() {
	c.once.Do(func() {
		if c.pw != nil {
			_ = c.pw.Close()
			<-c.done
		}
	})
}

// progress draws the upload's progress on stderr: a bar redrawn in place on
// a terminal, a plain line every few seconds otherwise.
type progress struct {
	w      io.Writer
	tty    bool
	size   int64
	gz     bool
	header bool // the first line is a header (CSV), not a person
	start  time.Time
}

func newProgress(w io.Writer, size int64, gz, jsonl bool) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, size: size, gz: gz, header: !jsonl, start: time.Now()}
}

// run redraws until the returned stop function is called.
func (p *progress) run(c *sendCounter) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				p.draw(c, true)
				return
			case <-t.C:
				p.draw(c, false)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (p *progress) draw(c *sendCounter, final bool) {
	sent, lines := c.bytes.Load(), c.lines.Load()
	rows := lines
	if p.header && rows > 0 {
		rows--
	}
	elapsed := time.Since(p.start).Seconds()
	rate := float64(rows) / max(elapsed, 0.001)
	line := fmt.Sprintf("%s rows  %s", humanInt(rows), humanBytes(sent))
	frac := -1.0
	if p.size > 0 {
		frac = min(float64(sent)/float64(p.size), 1)
		line += "/" + humanBytes(p.size)
	}
	line += fmt.Sprintf("  %s rows/s", humanInt(int64(rate)))
	switch {
	case final:
		line += "  sent"
	case frac >= 1:
		line += "  sent; the server is loading..."
	case frac > 0:
		eta := time.Duration(elapsed * (1 - frac) / frac * float64(time.Second))
		line += "  ETA " + eta.Round(time.Second).String()
	}
	if !p.tty {
		fmt.Fprintf(p.w, "breach: import: %s\n", line)
		return
	}
	bar := ""
	if frac >= 0 {
		const width = 30
		n := int(frac * width)
		bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + fmt.Sprintf("] %3d%%  ", int(frac*100))
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s%s\x1b[K%s", bar, line, end)
}

func humanInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newPeopleGenerateCmd() *cobra.Command {
	var count int
	var out, format string
	var seed int64
	var gz bool
	var dups float64
	cmd := &cobra.Command{
		Use:   "generate --count N --out FILE [--seed S] [--format csv|jsonl] [--gzip] [--duplicates RATE]",
		Short: "Write a synthetic population (French names, example.org emails, French mobiles) for demos, drills and benchmarks",
		Long: `Writes N synthetic people: realistic French first and last names with their
accents, about 5% English speakers, emails at the RFC 2606 example domains
(example.org, .com, .net and subdomains: nobody real receives anything),
French mobile numbers written in the usual ways, and identity-provider account
IDs. The same --seed gives the same file. --duplicates 0.01 repeats the email
of an earlier row in about 1% of the rows, for the import to merge.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return usagef("--count must be positive")
			}
			if out == "" {
				return usagef("--out FILE|- is required")
			}
			f := people.Format(format)
			if format == "" {
				f = people.CSV
				if base := strings.TrimSuffix(out, ".gz"); strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson") {
					f = people.JSONL
				}
			}
			if f != people.CSV && f != people.JSONL {
				return usagef("--format: must be csv or jsonl")
			}
			if dups < 0 || dups > 0.5 {
				return usagef("--duplicates: between 0 and 0.5")
			}
			gz = gz || strings.HasSuffix(out, ".gz")
			return generateFile(cmd, out, count, seed, f, gz, dups)
		},
	}
	cmd.Flags().IntVar(&count, "count", 1000, "number of people")
	cmd.Flags().StringVar(&out, "out", "", "output file, or - for standard output")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed: the same seed gives the same file")
	cmd.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file name, else csv)")
	cmd.Flags().BoolVar(&gz, "gzip", false, "compress with gzip (implied by a .gz name)")
	cmd.Flags().Float64Var(&dups, "duplicates", 0, "share of rows repeating an earlier email (0 to 0.5)")
	return cmd
}

func generateFile(cmd *cobra.Command, out string, count int, seed int64, f people.Format, gz bool, dups float64) (err error) {
	var w io.Writer = cmd.OutOrStdout()
	if out != "-" {
		tmp, err := os.CreateTemp(filepath.Dir(out), ".generate-*")
		if err != nil {
			return fmt.Errorf("people generate: %w", err)
		}
		defer func() {
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
				return
			}
			if err = tmp.Close(); err == nil {
				err = os.Rename(tmp.Name(), out)
			}
		}()
		w = tmp
	}
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		w = zw
	}
	if err := people.GenerateWith(w, count, seed, f, people.GenerateOptions{Duplicates: dups}); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("people generate: %w", err)
		}
	}
	if out != "-" {
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d people to %s (%s%s, seed %d)\n", count, out, f, map[bool]string{true: "+gzip"}[gz], seed)
	}
	return nil
}
