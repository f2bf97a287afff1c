package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/breach-engine/breach/internal/people"
)

// chromium finds the browser: $CHROMIUM, or Debian's chromium.
func chromium() string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// browser drives one headless Chromium against the test server, records
// every request the pages make and every error they log, and writes a
// screenshot of each page it is asked to.
type browser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	shots  string
	n      int
	mu     sync.Mutex
	urls   []string
	errors []string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI is set: the browser tests must run (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium, or set CHROMIUM); skipped because CI is not set")
	}
	shots := os.Getenv("BREACH_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	if err := chromedp.Do(ctx); err != nil { // start the browser, without a timeout
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.urls = append(b.urls, e.Request.URL)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || strings.Contains(e.Entry.Text, "Content Security Policy") {
				b.errors = append(b.errors, e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				b.errors = append(b.errors, "console.error")
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	return b
}

// do runs actions with a time limit, failing the test with what it was doing.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	return b.eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel))
}

func (b *browser) count(sel string) int {
	var n int
	fmt.Sscan(b.eval(fmt.Sprintf(`String(document.querySelectorAll(%q).length)`, sel)), &n)
	return n
}

func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// shot writes a full-page screenshot, numbered in the order taken.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// click clicks a link or a submit button and waits for the page it leads to.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
	b.do(what, chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// waitFor polls the page until cond holds, for up to ten seconds.
func (b *browser) waitFor(what string, cond func() bool) {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
	b.t.Fatalf("waiting for %s: timed out", what)
}

func (b *browser) signIn(user string) {
	b.t.Helper()
	b.do("sign in as "+user,
		chromedp.Navigate(b.base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("f-username")),
		chromedp.SendKeys(chromedp.ID("f-username"), user),
		chromedp.SendKeys(chromedp.ID("f-password"), password),
	)
	b.click("submit the sign-in form", `form[action="/signin"] button[type="submit"]`)
	b.do("signed in as "+user, chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.click("sign out", `form[action="/signout"] button`)
}

// TestBrowserRegulatorTrack drives the pages in a real Chromium: a DPO signs
// in, opens an incident and assesses it, drafts the dossier; the author finds
// no approve button; a second account approves; the DPO records the filing;
// an auditor opens the audit page and sees the chain verified. Every request
// the pages make stays on the server, and no page logs an error (a CSP
// violation would).
func TestBrowserRegulatorTrack(t *testing.T) {
	v := newEnv(t)
	b := newBrowser(t, v.srv.URL)

	b.do("sign-in page", chromedp.Navigate(b.base+"/signin"), chromedp.WaitVisible(chromedp.ID("f-username")))
	b.shot("signin")
	b.signIn("dpo")
	b.shot("register-empty")
	// The keyboard reaches the skip link first, and the skip link the main content.
	b.do("tab", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("main h1")), chromedp.KeyEvent(kb.Tab))
	if got := b.eval(`document.activeElement.className`); got != "skip" {
		t.Errorf("first Tab stop: %q, want the skip link", got)
	}

	// Open an incident: the ENISA preview follows the facts as they are entered.
	b.click("open the facts form", `a.button[href="/incidents/new"]`)
	facts := incidentFacts("browser-1")
	b.do("fill the facts",
		chromedp.SendKeys(chromedp.ID("f-title"), facts.Get("title")),
		chromedp.SetValue(chromedp.ID("f-description"), facts.Get("description")),
		chromedp.SetValue(chromedp.ID("f-detected-at"), facts.Get("detected_at")),
		chromedp.SetValue(chromedp.ID("f-aware-at"), facts.Get("aware_at")),
		chromedp.SetValue(chromedp.ID("f-controller-name"), facts.Get("controller.name")),
		chromedp.SetValue(chromedp.ID("f-controller-siren"), facts.Get("controller.siren")),
		chromedp.SetValue(chromedp.ID("f-controller-legal-representative"), facts.Get("controller.legal_representative")),
		chromedp.SetValue(chromedp.ID("f-controller-dpo-name"), facts.Get("controller.dpo.name")),
		chromedp.SetValue(chromedp.ID("f-controller-dpo-email"), facts.Get("controller.dpo.email")),
		chromedp.SetValue(chromedp.ID("f-approx-subjects"), "4800000"),
		chromedp.SetValue(chromedp.ID("f-cause"), "malicious_external"),
		chromedp.Click(chromedp.CSS(`input[name="breach_types"][value="confidentiality"]`)),
		chromedp.Click(chromedp.CSS(`input[name="data_categories"][value="contact"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#assessment-preview [data-enisa="score"]`)),
	)
	// Simple data first, then health data: the breakdown follows.
	b.waitFor("the preview of contact data", func() bool { return b.text(`#assessment-preview [data-enisa="dpc"]`) == "1" })
	firstScore := b.text(`#assessment-preview [data-enisa="score"]`)
	b.do("tick health data",
		chromedp.Click(chromedp.CSS(`input[name="data_categories"][value="identification"]`)),
		chromedp.Click(chromedp.CSS(`input[name="data_categories"][value="health"]`)),
		chromedp.Click(chromedp.CSS(`input[name="data_categories"][value="credentials"]`)),
	)
	b.waitFor("the preview of health data", func() bool { return b.text(`#assessment-preview [data-enisa="dpc"]`) == "4" })
	if score := b.text(`#assessment-preview [data-enisa="score"]`); score == firstScore {
		t.Errorf("the ENISA score did not follow the facts: %s then %s", firstScore, score)
	}
	b.shot("facts-form")
	b.click("open the incident", `form.facts button[type="submit"]`)
	if !strings.Contains(b.location(), "/assess") {
		t.Fatalf("after opening: %s\n%s", b.location(), b.text("main"))
	}
	b.shot("assessment")

	// Assess: confirm the proposal with a reason.
	b.do("assess",
		chromedp.SendKeys(chromedp.ID("f-reason"), "Health data of 4.8 million people, taken by an attacker."),
	)
	b.click("record the assessment", `form.assess button[type="submit"]`)
	incidentURL := strings.Split(b.location(), "?")[0]
	if b.count(".notice") != 1 || b.count(".badge.risk-high") == 0 {
		t.Fatalf("incident page after the assessment:\n%s", b.text("main"))
	}
	b.shot("incident-assessed")

	// Draft the CNIL dossier.
	b.click("open the draft form", `a[data-action="draft"]`)
	b.do("write the draft",
		chromedp.SetValue(chromedp.ID("f-nature"), "Exfiltration des données de demandeurs d'emploi."),
		chromedp.SetValue(chromedp.ID("f-consequences"), "Hameçonnage ciblé, usurpation d'identité."),
		chromedp.SetValue(chromedp.ID("f-measures-taken"), "Compte partenaire désactivé, plainte déposée."),
	)
	b.shot("draft-form")
	b.click("save the draft", `form.draft button[type="submit"]`)
	draftURL := strings.Split(b.location(), "?")[0]
	// The author is not offered the approval.
	if b.count(`button[value="approve"]`) != 0 || b.count("[data-four-eyes]") != 1 {
		t.Error("the author of the draft is offered the approval")
	}
	b.do("dossier frame", chromedp.WaitVisible(chromedp.CSS("iframe.dossier")), chromedp.Sleep(300*time.Millisecond))
	b.shot("draft-author")
	b.signOut()

	// A second account approves; it reads the pages in French, its preference.
	b.signIn("approver")
	b.do("choose French", chromedp.SetValue(chromedp.ID("pref-language"), "fr"))
	b.click("apply the language", `form[action="/preferences/language"] button`)
	if lang := b.eval(`document.documentElement.lang`); lang != "fr" {
		t.Errorf("approver's pages in %q after choosing French", lang)
	}
	b.shot("register-approver")
	b.do("open the draft", chromedp.Navigate(draftURL), chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
		chromedp.Sleep(300*time.Millisecond))
	b.shot("draft-approver")
	b.do("comment", chromedp.SendKeys(chromedp.ID("f-comment"), "Conforme."))
	b.click("approve", `button[value="approve"]`)
	if b.count(".badge.draft-approved") == 0 {
		t.Fatalf("after approval:\n%s", b.text("main"))
	}
	b.shot("draft-approved")
	b.signOut()

	// The DPO records the filing.
	b.signIn("dpo")
	b.do("incident", chromedp.Navigate(incidentURL), chromedp.WaitVisible(chromedp.CSS(`a[data-action="file"]`)))
	b.click("open the filing form", `a[data-action="file"]`)
	b.do("fill the filing",
		chromedp.SendKeys(chromedp.ID("f-reference"), "CNIL-2026-004242"),
		chromedp.SetValue(chromedp.ID("f-channel"), "cnil_online"),
		chromedp.SetValue(chromedp.ID("f-filed-at"), time.Now().Add(-time.Minute).In(paris()).Format("2006-01-02T15:04")),
	)
	b.shot("filing-form")
	b.click("record the filing", `form.filing button[type="submit"]`)
	if !strings.Contains(b.text("main"), "CNIL-2026-004242") {
		t.Fatalf("incident page after filing:\n%s", b.text("main"))
	}
	b.shot("incident-filed")
	b.do("register", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("table.register")))
	b.shot("register-dpo")

	// The DPO imports the affected people; htmx swaps the outcome in.
	csvPath := filepath.Join(t.TempDir(), "people.csv")
	var file strings.Builder
	if err := people.Generate(&file, 200, 3, people.CSV); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csvPath, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do("people page", chromedp.Navigate(incidentURL+"/people"), chromedp.WaitVisible(chromedp.ID("f-file")),
		chromedp.SetUploadFiles(chromedp.ID("f-file"), []string{csvPath}),
		chromedp.Click(chromedp.CSS(`form.import button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.import-result[data-loaded="200"]`)),
	)
	if got := b.eval(`String(document.querySelector("progress.upload").value)`); got != "100" {
		t.Errorf("upload progress bar at %s", got)
	}
	b.shot("people-imported")
	b.signOut()

	// The auditor reads the audit log: the chain is verified.
	b.signIn("auditor")
	b.do("audit page", chromedp.Navigate(incidentURL+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-chain="verified"]`)))
	if rows := b.count("table.audit tbody tr"); rows < 5 {
		t.Errorf("audit rows: %d", rows)
	}
	b.shot("audit")
	b.click("open the Temporal history", `a[href$="/history"]`)
	if b.count("table.history tbody tr") < 5 {
		t.Errorf("history rows: %d", b.count("table.history tbody tr"))
	}
	b.shot("history")
	b.do("record page", chromedp.Navigate(incidentURL+"/record"), chromedp.WaitVisible(chromedp.CSS(".record")))
	b.shot("record")
	// The incident page on a tablet.
	b.do("tablet", chromedp.EmulateViewport(820, 1180), chromedp.Navigate(incidentURL), chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.shot("incident-tablet")
	b.do("laptop", chromedp.EmulateViewport(1366, 900))
	b.signOut()

	// The admin's page.
	b.signIn("admin")
	b.do("admin page", chromedp.WaitVisible(chromedp.CSS("table.accounts")))
	b.shot("admin")

	// Nothing left the server, and no page logged an error.
	b.mu.Lock()
	defer b.mu.Unlock()
	origin, _ := url.Parse(v.srv.URL)
	if len(b.urls) < 20 {
		t.Errorf("only %d requests recorded: the network log is not working", len(b.urls))
	}
	for _, u := range b.urls {
		if strings.HasPrefix(u, "data:") {
			continue // inline, no request leaves the browser (Chromium's own date-picker icon)
		}
		p, err := url.Parse(u)
		if err != nil || p.Scheme != origin.Scheme || p.Host != origin.Host {
			t.Errorf("a page loaded %s, outside the server %s", u, v.srv.URL)
		}
	}
	for _, e := range b.errors {
		t.Errorf("browser error: %s", e)
	}
}
