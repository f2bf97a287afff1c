package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/web/i18n"
	webui "github.com/breach-engine/breach/templates/web"
)

// auditData is an incident's audit rows with the chain's verification and
// the names of the actors, for auditors and the DPO.
func (s *Server) auditData(r *http.Request, in *info, id string) (app.IncidentView, []store.AuditRow, store.AuditVerification, map[string]string, error) {
	ctx := r.Context()
	var ver store.AuditVerification
	rows, err := s.app.AuditLog(ctx, in.actor, id)
	if err != nil {
		return app.IncidentView{}, nil, ver, nil, err
	}
	iv, err := s.app.Incident(ctx, in.actor, id)
	if err != nil {
		return iv, nil, ver, nil, err
	}
	if ver, err = s.app.VerifyAudit(ctx, in.actor); err != nil {
		return iv, nil, ver, nil, err
	}
	names, err := s.app.Directory(ctx, in.actor)
	return iv, rows, ver, names, err
}

func auditRows(l i18n.Lang, names map[string]string, rows []store.AuditRow) []webui.AuditRowView {
	out := make([]webui.AuditRowView, len(rows))
	for i, r := range rows {
		out[i] = webui.AuditRowView{
			ID: r.ID, At: r.At, Who: who(l, names, r.ActorID), Role: r.ActorRole,
			Action: l.Code("audit", r.Action) + " (" + r.Action + ")",
			Before: indent(r.Before), After: indent(r.After), Hash: r.Hash, PrevHash: r.PrevHash,
		}
	}
	return out
}

func indent(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

func verificationView(v store.AuditVerification) webui.Verification {
	return webui.Verification{Rows: v.Rows, OK: v.OK, FirstBadID: v.FirstBadID, Reason: v.Reason}
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, in *info) {
	iv, rows, ver, names, err := s.auditData(r, in, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.AuditView{Incident: iv.Incident, Rows: auditRows(in.lang, names, rows), Verification: verificationView(ver)}
	s.render(w, r, http.StatusOK, webui.Audit(s.page(r, in.lang.T("audit.title"), "register"), v))
}

// recordPage is one incident's record, to print: facts, decisions, drafts,
// filings and the audit rows, with the chain's verification.
func (s *Server) recordPage(w http.ResponseWriter, r *http.Request, in *info) {
	iv, rows, ver, names, err := s.auditData(r, in, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.RecordView{
		Incident: iv.Incident, Assessments: iv.Assessments, Filings: iv.Filings, Names: names,
		Deadlines: deadlineRows(iv, app.StateOf(iv), rows), Drafts: draftGroups(iv.Drafts),
		Rows: auditRows(in.lang, names, rows), Verification: verificationView(ver), PrintedAt: s.now(),
	}
	s.render(w, r, http.StatusOK, webui.Record(s.page(r, in.lang.T("record.title", iv.Incident.Title), "register"), v))
}

// historyPage shows the decoded Temporal history of the incident's workflows.
func (s *Server) historyPage(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	hs, err := s.app.IncidentHistory(r.Context(), in.actor, id, s.dc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.HistoryView{Incident: iv.Incident}
	for _, h := range hs {
		wh := webui.WorkflowHistory{WorkflowID: h.WorkflowID, Missing: h.Missing, Truncated: h.Truncated}
		for _, e := range h.Events {
			wh.Events = append(wh.Events, webui.HistoryEvent{ID: e.ID, At: e.At, Type: e.Type, Details: e.Details, Payloads: e.Payloads})
		}
		v.Workflows = append(v.Workflows, wh)
	}
	s.render(w, r, http.StatusOK, webui.History(s.page(r, in.lang.T("history.title"), "register"), v))
}

// auditJSON exports the incident's audit rows as JSON, with the verification.
func (s *Server) auditJSON(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	_, rows, ver, _, err := s.auditData(r, in, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+id+`.json"`)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		IncidentID   string                  `json:"incident_id"`
		ExportedAt   time.Time               `json:"exported_at"`
		Verification store.AuditVerification `json:"verification"`
		Rows         []store.AuditRow        `json:"rows"`
	}{id, s.now().UTC(), ver, rows})
}

// auditCSV exports the incident's audit rows as CSV.
func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	_, rows, _, names, err := s.auditData(r, in, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+id+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "at", "actor_id", "actor_name", "actor_role", "action", "incident_id", "workflow_id",
		"run_id", "before", "after", "prev_hash", "hash"})
	for _, row := range rows {
		name := ""
		if n, ok := names[row.ActorID]; ok {
			name = n
		}
		_ = cw.Write([]string{
			strconv.FormatInt(row.ID, 10), row.At.UTC().Format(time.RFC3339Nano), row.ActorID, cell(name), row.ActorRole,
			row.Action, row.IncidentID, row.WorkflowID, row.RunID, cell(string(row.Before)), cell(string(row.After)),
			row.PrevHash, row.Hash,
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.logger.Error("web: write audit csv", "err", err)
	}
}

// cell defuses spreadsheet formulas in free text (OWASP CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, in *info) {
	f := newForm()
	s.showAdmin(w, r, in, http.StatusOK, f)
}

func (s *Server) showAdmin(w http.ResponseWriter, r *http.Request, in *info, status int, f webui.Form) {
	users, err := s.app.Accounts(r.Context(), in.actor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.AdminView{Form: f}
	for _, u := range users {
		v.Accounts = append(v.Accounts, webui.Account{
			ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, CreatedAt: u.CreatedAt,
			Disabled: u.Disabled, Self: u.ID == in.actor.UserID,
		})
	}
	s.render(w, r, status, webui.Admin(s.page(r, in.lang.T("admin.title"), "admin"), v))
}

var accountFields = []string{"username", "display_name", "role", "password"}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, in *info) {
	f := submitted(r.PostForm)
	_, err := s.app.CreateAccount(r.Context(), in.actor, app.NewAccount{
		Username:    strings.TrimSpace(r.PostForm.Get("username")),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
		Role:        breach.Role(r.PostForm.Get("role")),
		Password:    r.PostForm.Get("password"),
	})
	if err != nil {
		f.Values.Del("password") // never sent back
		var de *breach.Error
		if asDomain(err, &de) && de.Code == breach.ErrConflict && de.Field == "username" {
			f.Errors["username"] = in.lang.T("form.username_taken")
			s.showAdmin(w, r, in, http.StatusUnprocessableEntity, f)
			return
		}
		if withErrors(&f, in.lang, err, accountFields...) {
			s.showAdmin(w, r, in, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/admin", "account_created")
}

func (s *Server) setDisabled(disabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request, in *info) {
		if err := s.app.SetAccountDisabled(r.Context(), in.actor, r.PathValue("id"), disabled); err != nil {
			s.fail(w, r, err)
			return
		}
		done := "account_enabled"
		if disabled {
			done = "account_disabled"
		}
		redirect(w, r, "/admin", done)
	}
}
