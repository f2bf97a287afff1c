package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/api"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/internal/pgtest"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
)

// syncBuffer collects the server's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type peopleEnv struct {
	t        *testing.T
	st       *store.Store
	url      string
	tokens   map[breach.Role]string
	incident string
	logs     *syncBuffer
}

func newPeopleEnv(t *testing.T) *peopleEnv {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	v, err := vault.FromSpec(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The import needs no Temporal: the store and the vault.
	svc := &app.Service{Store: st, Logger: logger, Vault: v}
	srv := httptest.NewServer((&api.Server{App: svc, Store: st, Logger: logger}).Handler())
	t.Cleanup(srv.Close)
	e := &peopleEnv{t: t, st: st, url: srv.URL, tokens: map[breach.Role]string{}, logs: logs}
	for _, role := range []breach.Role{breach.RoleDPO, breach.RoleApprover, breach.RoleAuditor} {
		u, err := st.CreateUser(ctx, breach.System, store.NewUser{Username: string(role), DisplayName: string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(ctx, breach.System, u.ID, "test", hash); err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = token
	}
	inc, _, err := st.CreateIncident(ctx, breach.Actor{UserID: "dpo", Role: breach.RoleDPO}, demo.Incident(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	e.incident = inc.ID
	return e
}

type importAnswer struct {
	Error *breach.Error `json:"error"`
	app.ImportPeopleResult
}

func (e *peopleEnv) post(role breach.Role, query string, body io.Reader) (int, importAnswer, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/incidents/"+e.incident+"/people/import"+query, body)
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a importAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, a, string(raw)
}

const csvHeader = "email,first_name,last_name,phone,language,account_id\n"

func TestImportThroughTheAPI(t *testing.T) {
	e := newPeopleEnv(t)
	file := csvHeader +
		"zoe.lefevre@example.org,Zoé,Lefèvre,06 12 34 56 78,fr,FT-1\n" +
		"jean.martin@example.com,Jean,Martin,,en,FT-2\n" +
		"ZOE.lefevre@example.org,Zoé,Lefèvre,,,\n" + // not a duplicate: the local part is kept as written
		"zoe.lefevre@EXAMPLE.org,Zoé,L,,,\n" // a duplicate: the domain is normalised
	status, a, raw := e.post(breach.RoleDPO, "", strings.NewReader(file))
	if status != http.StatusOK || a.Loaded != 3 || a.Merged != 1 || a.Rejected != 0 || a.Format != "csv" || a.Encoding != "utf-8" {
		t.Fatalf("%d %s", status, raw)
	}
	for _, secret := range []string{"zoe", "Lefèvre", "FT-1", "612345678"} {
		if strings.Contains(raw, secret) || strings.Contains(e.logs.String(), secret) {
			t.Fatalf("%q in the answer or the logs", secret)
		}
	}

	// gzip, JSON Lines, detected from the content.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, `{"email":"new@example.net","name":"Nouvelle Personne","language":"fr"}`+"\n")
	zw.Close()
	status, a, raw = e.post(breach.RoleDPO, "", &gz)
	if status != http.StatusOK || a.Loaded != 1 || a.FirstID != 4 || !a.Gzip || a.Format != "jsonl" {
		t.Fatalf("gzip jsonl: %d %s", status, raw)
	}
}

func TestImportRefusals(t *testing.T) {
	e := newPeopleEnv(t)
	file := csvHeader + "a@example.org,A,B,,,\n"

	// Not the DPO: 403, audited, and the body is never read (100-continue).
	var read atomic.Bool
	body := readFunc(func(p []byte) (int, error) { read.Store(true); return 0, io.EOF })
	for _, role := range []breach.Role{breach.RoleApprover, breach.RoleAuditor} {
		status, a, raw := e.post(role, "", body)
		if status != http.StatusForbidden || a.Error == nil || a.Error.Code != breach.ErrForbidden {
			t.Fatalf("%s: %d %s", role, status, raw)
		}
	}
	if read.Load() {
		t.Fatal("the body of a refused import was read")
	}
	rows, _ := e.st.AuditLog(context.Background(), e.incident)
	if rows[len(rows)-1].Action != "update.rejected" {
		t.Fatalf("refusal not audited: %+v", rows[len(rows)-1])
	}

	// Bad query parameters.
	if status, _, raw := e.post(breach.RoleDPO, "?format=xml", strings.NewReader(file)); status != http.StatusBadRequest || !strings.Contains(raw, "format") {
		t.Fatalf("format=xml: %d %s", status, raw)
	}
	if status, _, raw := e.post(breach.RoleDPO, "?skip_invalid=maybe", strings.NewReader(file)); status != http.StatusBadRequest {
		t.Fatalf("skip_invalid=maybe: %d %s", status, raw)
	}

	// An unknown incident.
	saved := e.incident
	e.incident = "00000000-0000-4000-8000-000000000000"
	if status, _, raw := e.post(breach.RoleDPO, "", strings.NewReader(file)); status != http.StatusNotFound {
		t.Fatalf("unknown incident: %d %s", status, raw)
	}
	e.incident = saved

	// Locked by the send: 409.
	if err := e.st.InTx(context.Background(), func(ctx context.Context, tx *store.Tx) error { return e.st.LockPeople(ctx, tx, e.incident) }); err != nil {
		t.Fatal(err)
	}
	if status, a, raw := e.post(breach.RoleDPO, "", strings.NewReader(file)); status != http.StatusConflict || a.Error.Code != breach.ErrConflict {
		t.Fatalf("locked: %d %s", status, raw)
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func TestImportBadFiles(t *testing.T) {
	e := newPeopleEnv(t)

	// A bad header: 400 naming line 1 and the column.
	status, a, raw := e.post(breach.RoleDPO, "", strings.NewReader("email,colour\na@example.org,red\n"))
	if status != http.StatusBadRequest || a.Error == nil || !strings.Contains(a.Error.Message, "line 1") || !strings.Contains(a.Error.Message, `"colour"`) {
		t.Fatalf("bad header: %d %s", status, raw)
	}

	// Bad rows, all-or-nothing: 400, the first line in the message, every
	// reject listed, nothing loaded.
	file := csvHeader +
		"a@example.org,A,B,,,\n" +
		"not-an-email,Marie,Dupont,,,\n" +
		"b@example.org,\"Marie\rBcc: victim@example.org\",B,,,\n" +
		"c@example.org,C,D,,,,extra\n" +
		"d@example.org,D,E,,,\n"
	status, a, raw = e.post(breach.RoleDPO, "", strings.NewReader(file))
	if status != http.StatusBadRequest || a.Error == nil || !strings.Contains(a.Error.Message, "line 3") || a.Rejected != 3 || a.Loaded != 0 {
		t.Fatalf("bad rows: %d %s", status, raw)
	}
	want := []struct {
		line   int64
		reason string
	}{{3, "email"}, {4, "line break"}, {5, "wrong column count"}}
	for i, w := range want {
		if a.Rejects[i].Line != w.line || !strings.Contains(a.Rejects[i].Reason, w.reason) {
			t.Fatalf("reject %d: %+v", i, a.Rejects[i])
		}
	}
	for _, secret := range []string{"not-an-email", "Marie", "victim", "Dupont"} {
		if strings.Contains(raw, secret) || strings.Contains(e.logs.String(), secret) {
			t.Fatalf("%q in the answer or the logs", secret)
		}
	}
	if n, _ := e.st.PeopleCount(context.Background(), e.incident); n != 0 {
		t.Fatalf("all-or-nothing loaded %d", n)
	}

	// skip_invalid: the good rows load, the rejects are reported.
	status, a, raw = e.post(breach.RoleDPO, "?skip_invalid=true", strings.NewReader(file))
	if status != http.StatusOK || a.Loaded != 2 || a.Rejected != 3 || len(a.Rejects) != 3 {
		t.Fatalf("skip_invalid: %d %s", status, raw)
	}

	// Windows-1252 is converted and reported.
	status, a, raw = e.post(breach.RoleDPO, "", strings.NewReader(csvHeader+"w@example.org,Zo\xe9,Lef\xe8vre,,,\n"))
	if status != http.StatusOK || a.Encoding != "windows-1252" || a.Loaded != 1 {
		t.Fatalf("windows-1252: %d %s", status, raw)
	}
	var names []string
	v, _ := vault.FromSpec(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	rs, err := e.st.Recipients(context.Background(), v, e.incident, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if strings.Join(names, "|") != "A B|D E|Zoé Lefèvre" {
		t.Fatalf("names %q", names)
	}
}
