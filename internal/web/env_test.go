package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/testenv"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/templates"
)

func TestMain(m *testing.M) { pgtest.Main(m, testenv.Stop) }

// password is every test account's password.
const password = "correct horse battery staple"

// env is a live engine (real Temporal, real Postgres, the worker with the
// real activities) serving the web pages on a test server, as e2e does.
type env struct {
	t      *testing.T
	store  *store.Store
	engine *engine.Engine
	srv    *httptest.Server
	users  map[string]store.User
}

// accounts of every test environment: username -> role.
var accounts = []struct {
	name string
	role breach.Role
}{
	{"dpo", breach.RoleDPO}, {"approver", breach.RoleApprover}, {"approver2", breach.RoleApprover},
	{"auditor", breach.RoleAuditor}, {"admin", breach.RoleAdmin},
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := pgtest.NewStore(t)
	cdc := testenv.Codec(t)
	tc := testenv.Client(t, engine.DataConverter(cdc))
	vlt, err := vault.FromSpec(codec.NewKeySpec())
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{
		Store: st, Temporal: tc, Codec: cdc, TaskQueue: testenv.TaskQueue(t),
		ReminderOffsets: breach.DefaultReminderOffsets, Logger: testenv.Logger(), InsecureCookies: true, Vault: vlt,
	}
	testenv.Worker(t, tc, e.TaskQueue, func(r worker.Registry) {
		engine.Register(r, &activities.Activities{Store: st, Dossiers: templates.Dossiers{}, Logger: testenv.Logger()})
	})
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	v := &env{t: t, store: st, engine: e, srv: srv, users: map[string]store.User{}}
	for _, a := range accounts {
		u, err := st.CreateUser(context.Background(), breach.System, store.NewUser{
			Username: a.name, DisplayName: "Test " + a.name, Role: a.role,
			// Cheap parameters: verification reads them from the hash.
			PasswordHash: auth.HashPasswordWith(password, auth.Params{Memory: 64, Time: 1, Threads: 1}),
		})
		if err != nil {
			t.Fatal(err)
		}
		v.users[a.name] = u
	}
	return v
}

// client is a browser-like HTTP client: a cookie jar, no automatic redirects,
// and the CSRF token of the last page read.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (v *env) anonymous() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: v.t, base: v.srv.URL, http: &http.Client{
		Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// as returns a client signed in as the account.
func (v *env) as(username string) *client {
	v.t.Helper()
	c := v.anonymous()
	res := c.signIn(username, password)
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("sign in as %s: status %d\n%s", username, res.status, res.body)
	}
	if r := c.get("/"); r.status == http.StatusSeeOther { // admins land on /admin
		c.get(r.location)
	}
	if c.csrf == "" {
		v.t.Fatalf("no CSRF token for %s", username)
	}
	return c
}

// response is an answer, parsed when it is HTML.
type response struct {
	status   int
	header   http.Header
	body     string
	doc      *goquery.Document
	location string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, body: string(b), location: res.Header.Get("Location")}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
		if err != nil {
			c.t.Fatalf("parse %s: %v", req.URL, err)
		}
		r.doc = doc
		if tok, ok := doc.Find(`meta[name="csrf-token"]`).Attr("content"); ok {
			c.csrf = tok
		}
	}
	return r
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// post sends a form with the session's CSRF token, as the pages' forms do.
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	f := url.Values{}
	for k, vs := range form {
		f[k] = vs
	}
	if f.Get("csrf") == "" {
		f.Set("csrf", c.csrf)
	}
	return c.postRaw(path, f, nil)
}

func (c *client) postRaw(path string, form url.Values, headers map[string]string) response {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

// upload posts a file as the people page's form does: the CSRF token first
// (or, with htmx, in a header), then the options, then the file.
func (c *client) upload(path string, file []byte, skipInvalid, htmx bool) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if !htmx {
		_ = mw.WriteField("csrf", c.csrf)
	}
	if skipInvalid {
		_ = mw.WriteField("skip_invalid", "true")
	}
	fw, _ := mw.CreateFormFile("file", "people.csv")
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", c.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if htmx {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	return c.do(req)
}

// signIn posts the sign-in form as a browser would: read the form first.
func (c *client) signIn(username, pw string) response {
	c.t.Helper()
	page := c.get("/signin")
	tok, _ := page.doc.Find(`input[name="presession"]`).Attr("value")
	return c.postRaw("/signin", url.Values{"username": {username}, "password": {pw}, "presession": {tok}}, nil)
}

// follow reads the page a redirect points to.
func (c *client) follow(r response) response {
	c.t.Helper()
	if r.status != http.StatusSeeOther && r.status != http.StatusFound {
		c.t.Fatalf("expected a redirect, got %d\n%s", r.status, r.body)
	}
	return c.get(r.location)
}

func (r response) text(sel string) string { return strings.TrimSpace(r.doc.Find(sel).Text()) }

func (r response) has(sel string) bool { return r.doc.Find(sel).Length() > 0 }

// auditCount counts the audit log's rows.
func (v *env) auditCount() int {
	v.t.Helper()
	var n int
	if err := v.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		v.t.Fatal(err)
	}
	return n
}

// lastAudit is the newest audit row with the action.
func (v *env) lastAudit(action string) (store.AuditRow, bool) {
	v.t.Helper()
	rows, err := v.store.AuditLog(context.Background(), "")
	if err != nil {
		v.t.Fatal(err)
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Action == action {
			return rows[i], true
		}
	}
	return store.AuditRow{}, false
}

// incidentFacts is the facts form filled with the motivating incident.
func incidentFacts(ref string) url.Values {
	in := demo.Incident(time.Now())
	paris, _ := time.LoadLocation("Europe/Paris")
	f := url.Values{
		"title":                                {in.Title},
		"reference":                            {ref},
		"description":                          {in.Description},
		"discovery":                            {in.Discovery},
		"detected_at":                          {in.DetectedAt.In(paris).Format("2006-01-02T15:04")},
		"aware_at":                             {in.AwareAt.In(paris).Format("2006-01-02T15:04")},
		"aware_at_reason":                      {in.AwareAtReason},
		"controller.name":                      {in.Controller.Name},
		"controller.siren":                     {in.Controller.SIREN},
		"controller.legal_representative":      {in.Controller.LegalRepresentative},
		"controller.dpo.name":                  {in.Controller.DPO.Name},
		"controller.dpo.email":                 {in.Controller.DPO.Email},
		"controller.dpo.phone":                 {in.Controller.DPO.Phone},
		"approx_subjects":                      {"4800000"},
		"approx_records":                       {"4800000"},
		"cause":                                {string(in.Cause)},
		"circumstances.ease_of_identification": {"maximum"},
		"circumstances.recipients":             {"unknown"},
		"circumstances.malicious":              {"true"},
		"circumstances.data_unintelligible":    {"false"},
		"circumstances.vulnerable_subjects":    {"true"},
	}
	for _, d := range in.DataCategories {
		f.Add("data_categories", string(d))
	}
	for _, s := range in.SubjectCategories {
		f.Add("subject_categories", string(s))
	}
	f.Add("breach_types", "confidentiality")
	return f
}

// openIncident opens an incident through the DPO's form and returns its ID.
func (v *env) openIncident(c *client, ref string) string {
	v.t.Helper()
	res := c.post("/incidents", incidentFacts(ref))
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("open incident: %d\n%s", res.status, res.body)
	}
	id := strings.TrimPrefix(strings.TrimSuffix(strings.Split(res.location, "?")[0], "/assess"), "/incidents/")
	if len(id) != 36 {
		v.t.Fatalf("open incident: redirected to %s", res.location)
	}
	return id
}

// assess confirms the proposal with a reason.
func (v *env) assess(c *client, id string) {
	v.t.Helper()
	res := c.post("/incidents/"+id+"/assess", url.Values{"reason": {"Health data of millions, exfiltrated by an attacker."}})
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("assess: %d\n%s", res.status, res.body)
	}
}

// draftFields is the draft form filled in.
func draftFields(stage string, seq, base int) url.Values {
	return url.Values{
		"stage": {stage}, "seq": {itoa(seq)}, "base_version": {itoa(base)}, "language": {"fr"},
		"nature":            {demo.Draft.Nature},
		"consequences":      {demo.Draft.Consequences},
		"measures_taken":    {demo.Draft.MeasuresTaken},
		"measures_proposed": {demo.Draft.MeasuresProposed},
	}
}

// saveDraft writes a draft version through the form and returns its ID.
func (v *env) saveDraft(c *client, id string, form url.Values) string {
	v.t.Helper()
	res := c.post("/incidents/"+id+"/regimes/gdpr/drafts", form)
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("save draft: %d\n%s", res.status, res.body)
	}
	return strings.TrimPrefix(strings.Split(res.location, "?")[0], "/incidents/"+id+"/drafts/")
}

func itoa(n int) string { return strconv.Itoa(n) }

// noInline checks that a page has no inline script, style element or style
// attribute: the Content-Security-Policy would block them.
func noInline(t *testing.T, path string, r response) {
	t.Helper()
	if r.doc == nil {
		return
	}
	if n := r.doc.Find("script:not([src])").Length(); n > 0 {
		t.Errorf("%s: %d inline scripts", path, n)
	}
	if n := r.doc.Find("style").Length(); n > 0 {
		t.Errorf("%s: %d style elements", path, n)
	}
	if n := r.doc.Find("[style]").Length(); n > 0 {
		t.Errorf("%s: %d style attributes", path, n)
	}
	r.doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("%s: inline event handler %s", path, a.Key)
			}
		}
	})
}

// labelled checks that every input of a page has a label: a label element
// for its id, or a label around it.
func labelled(t *testing.T, path string, r response) {
	t.Helper()
	if r.doc == nil {
		return
	}
	r.doc.Find("input:not([type=hidden]), select, textarea").Each(func(_ int, s *goquery.Selection) {
		if id, ok := s.Attr("id"); ok && id != "" && r.doc.Find(`label[for="`+id+`"]`).Length() > 0 {
			return
		}
		if s.Closest("label").Length() > 0 {
			return
		}
		name, _ := s.Attr("name")
		t.Errorf("%s: input %q has no label", path, name)
	})
}
