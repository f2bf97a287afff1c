package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/register"
	webui "github.com/breach-engine/breach/templates/web"
)

// registerPage is the home page: every incident with its state, risk, next
// deadline and what it waits for, filtered and paged.
func (s *Server) registerPage(w http.ResponseWriter, r *http.Request, in *info) {
	if in.actor.Role == breach.RoleAdmin {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	f := webui.RegisterFilter{Q: q.Get("q"), Overdue: q.Get("overdue") == "1"}
	if st := q.Get("state"); slices.Contains([]string{"open", "assessed", "closed"}, st) {
		f.State = st
	}
	if rk := q.Get("risk"); slices.Contains([]string{"unassessed", "none", "risk", "high"}, rk) {
		f.Risk = rk
	}
	if wt := q.Get("waiting"); wt == string(breach.RoleDPO) || wt == string(breach.RoleApprover) {
		f.Waiting = wt
	}
	page, err := s.app.RegisterOverview(r.Context(), in.actor, app.RegisterQuery{
		State: breach.IncidentState(f.State), Risk: f.Risk, Waiting: breach.Role(f.Waiting), Overdue: f.Overdue,
		Search: f.Q, Page: atoi(q.Get("page")),
	}, s.register)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.RegisterView{
		Filter: f, Total: page.Total, All: page.All, Page: page.Page, Pages: page.Pages,
		Overdue: page.Overdue, ForDPO: page.ForDPO, ForApprover: page.ForApprove,
		CanOpen:   in.actor.Role == breach.RoleDPO,
		CanExport: in.actor.Role == breach.RoleDPO || in.actor.Role == breach.RoleAuditor,
		Lines:     make([]webui.RegisterLine, len(page.Lines)),
	}
	for i, l := range page.Lines {
		line := webui.RegisterLine{
			ID: l.ID, Reference: l.Reference, Title: l.Title, State: l.State, Decided: l.Decided,
			Next: l.Next, Subjects: l.ApproxSubjects, AwareAt: l.AwareAt,
		}
		for _, st := range l.Waiting {
			line.Waiting = append(line.Waiting, stepView(l.ID, st))
		}
		v.Lines[i] = line
	}
	pageURL := func(n int) string {
		u := url.Values{}
		for k, vs := range q {
			if k != "page" && k != "done" {
				u[k] = vs
			}
		}
		u.Set("page", strconv.Itoa(n))
		return "/?" + u.Encode()
	}
	if page.Page > 1 {
		v.PrevURL = pageURL(page.Page - 1)
	}
	if page.Page < page.Pages {
		v.NextURL = pageURL(page.Page + 1)
	}
	p := s.page(r, in.lang.T("register.title"), "register")
	s.render(w, r, http.StatusOK, webui.Register(p, v))
}

// registerCSV exports the Art. 33(5) register for auditors and the DPO.
func (s *Server) registerCSV(w http.ResponseWriter, r *http.Request, in *info) {
	entries, err := s.app.Register(r.Context(), in.actor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="breach-register.csv"`)
	if err := register.WriteCSV(w, entries); err != nil {
		s.logger.Error("web: write register csv", "err", err)
	}
}

// stepView gives a step the page that does it.
func stepView(incidentID string, st app.Step) webui.Step {
	v := webui.Step{Role: st.Role, Kind: string(st.Kind), Key: st.Key, DraftID: st.DraftID, Version: st.Version, Optional: st.Optional}
	base := "/incidents/" + incidentID
	keyQuery := "?stage=" + url.QueryEscape(string(st.Key.Stage)) + "&seq=" + strconv.Itoa(st.Key.Seq)
	switch st.Kind {
	case app.StepAssess:
		v.Href = base + "/assess"
	case app.StepDraft, app.StepEditDraft, app.StepRevise:
		v.Href = base + "/regimes/" + string(st.Key.Regime) + "/drafts/new" + keyQuery
	case app.StepDecide:
		v.Href = base + "/drafts/" + st.DraftID
	case app.StepFile:
		v.Href = base + "/regimes/" + string(st.Key.Regime) + "/filing" + keyQuery
	case app.StepClose:
		v.Href = base + "#close"
	}
	return v
}
