package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	tclient "go.temporal.io/sdk/client"

	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/web"
)

// TestIncidentTimelineMergesWorkflowEvents runs an incident on the test's
// Temporal server and reads its page: the timeline merges the workflow
// events (started, the regime's child, the assessment's update) with the
// audit rows, in time order, each marked with its source.
func TestIncidentTimelineMergesWorkflowEvents(t *testing.T) {
	v := newEnv(t)
	dpo := v.as("dpo")
	id := v.openIncident(dpo, "TL-1")
	v.assess(dpo, id)

	page := dpo.get("/incidents/" + id)
	if page.status != http.StatusOK {
		t.Fatalf("incident page: %d\n%s", page.status, page.body)
	}
	if page.has(".workflows-unavailable") {
		t.Fatalf("workflow events unavailable on a running engine:\n%s", page.text(".timeline"))
	}
	items := page.doc.Find(".timeline li")
	items.Each(func(_ int, li *goquery.Selection) {
		t.Logf("%s | %s | %s | %s", li.Find("time").AttrOr("datetime", ""), li.AttrOr("data-source", ""),
			strings.TrimSpace(li.Find(".what").Text()), strings.TrimSpace(li.Find(".by").Text()))
	})
	type line struct {
		source, what string
		at           time.Time
	}
	var lines []line
	items.Each(func(_ int, li *goquery.Selection) {
		src, _ := li.Attr("data-source")
		dt, _ := li.Find("time").Attr("datetime")
		at, err := time.Parse(time.RFC3339Nano, dt)
		if err != nil {
			t.Errorf("timeline time %q: %v", dt, err)
		}
		lines = append(lines, line{source: src, what: strings.TrimSpace(li.Find(".what").Text()), at: at})
	})
	find := func(source, what string) int {
		for i, l := range lines {
			if l.source == source && strings.Contains(l.what, what) {
				return i
			}
		}
		t.Errorf("no %s line %q in the timeline:\n%s", source, what, page.text(".timeline"))
		return -1
	}
	started := find("workflow", "Processus démarré")
	child := find("workflow", "Processus enfant démarré : RGPD")
	update := find("workflow", "Demande acceptée : assess")
	assessed := find("audit", "Risque évalué")
	for i := 1; i < len(lines); i++ {
		if lines[i].at.Before(lines[i-1].at) {
			t.Errorf("timeline out of order at %d: %s (%s) before %s (%s)", i,
				lines[i-1].what, lines[i-1].at, lines[i].what, lines[i].at)
		}
	}
	if started < 0 || child < 0 || update < 0 || assessed < 0 {
		return
	}
	if !(started < child && started < assessed) {
		t.Errorf("the workflow's start (line %d) should come before its child (%d) and the assessment (%d)", started, child, assessed)
	}
	// Both sources are told apart for the reader, not by colour alone.
	if got := page.doc.Find(`.timeline li[data-source="workflow"] .source`).First().Text(); got != "Processus" {
		t.Errorf("workflow label: %q", got)
	}
	if got := page.doc.Find(`.timeline li[data-source="audit"] .source`).First().Text(); got != "Décision" {
		t.Errorf("decision label: %q", got)
	}
	// In English too.
	if res := dpo.post("/preferences/language", url.Values{"language": {"en"}}); res.status >= 400 {
		t.Errorf("language: %d", res.status)
	} else if en := dpo.get("/incidents/" + id); !strings.Contains(en.text(".timeline"), "Workflow started") {
		t.Errorf("English timeline:\n%s", en.text(".timeline"))
	}

	// Approvers may not read the workflow histories: their timeline is the
	// audit rows, with no refusal written for it.
	ap := v.as("approver")
	audits := v.auditCount()
	res := ap.get("/incidents/" + id)
	if res.status != http.StatusOK || res.has(`.timeline li[data-source="workflow"]`) || !res.has(`.timeline li[data-source="audit"]`) {
		t.Errorf("approver's timeline: %d\n%s", res.status, res.text(".timeline"))
	}
	if n := v.auditCount(); n != audits {
		t.Errorf("reading the page as an approver wrote %d audit rows", n-audits)
	}
}

// slowTemporal answers the history reads of the incident page only when
// the request gives up.
type slowTemporal struct{ tclient.Client }

func (slowTemporal) GetWorkflowHistory(ctx context.Context, _, _ string, _ bool, _ enumspb.HistoryEventFilterType) tclient.HistoryEventIterator {
	return slowIterator{ctx}
}

type slowIterator struct{ ctx context.Context }

func (slowIterator) HasNext() bool { return true }
func (it slowIterator) Next() (*historypb.HistoryEvent, error) {
	<-it.ctx.Done()
	return nil, it.ctx.Err()
}

// TestIncidentTimelineWithoutTemporal: when the histories cannot be read in
// time the page still renders, quickly, with the audit rows and a notice.
func TestIncidentTimelineWithoutTemporal(t *testing.T) {
	v := newEnv(t)
	dpo := v.as("dpo")
	id := v.openIncident(dpo, "TL-2")
	v.assess(dpo, id)

	svc := *v.engine.App()
	svc.Temporal = slowTemporal{svc.Temporal}
	h := web.New(web.Options{App: &svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Payloads: engine.DataConverter(v.engine.Codec)}).Handler()
	base, _ := url.Parse(v.srv.URL)
	req := httptest.NewRequest("GET", "/incidents/"+id, nil)
	for _, c := range dpo.http.Jar.Cookies(base) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(t0)
	if rec.Code != http.StatusOK {
		t.Fatalf("incident page with a slow Temporal: %d\n%s", rec.Code, rec.Body.String())
	}
	if took > 5*time.Second {
		t.Errorf("the page waited %s for Temporal", took)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find(".workflows-unavailable").Length() != 1 {
		t.Errorf("no notice that the workflow events are missing")
	}
	if doc.Find(`.timeline li[data-source="audit"]`).Length() == 0 || doc.Find(`.timeline li[data-source="workflow"]`).Length() != 0 {
		t.Errorf("timeline without Temporal:\n%s", doc.Find(".timeline").Text())
	}
}
