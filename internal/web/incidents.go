package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/web/i18n"
	webui "github.com/breach-engine/breach/templates/web"
	"github.com/breach-engine/breach/workflows"
)

func (s *Server) newIncidentPage(w http.ResponseWriter, r *http.Request, in *info) {
	if err := s.app.Require(r.Context(), in.actor, "", "open an incident", breach.RoleDPO); err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm()
	f.Values.Set("cause", "unknown")
	s.showNewIncident(w, r, in, http.StatusOK, f)
}

func (s *Server) showNewIncident(w http.ResponseWriter, r *http.Request, in *info, status int, f webui.Form) {
	v := webui.NewIncidentView{Form: f}
	// The form shown again after an error keeps its preview.
	if status != http.StatusOK {
		inc, _ := parseIncident(f.Values)
		a := breach.Assess(factsOf(inc, f.Values))
		v.Preview = &a
	}
	p := s.page(r, in.lang.T("new.title"), "new")
	s.render(w, r, status, webui.NewIncident(p, v))
}

// preview answers the facts form's htmx requests with the ENISA breakdown of
// the facts as entered so far; nothing is written.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, in *info) {
	incIn, _ := parseIncident(r.PostForm)
	a, err := s.app.PreviewAssessment(r.Context(), in.actor, factsOf(incIn, r.PostForm))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, webui.ENISAPanel(s.page(r, "", ""), a))
}

// openIncident validates the facts and opens the incident, then goes on to
// its assessment. Bad input shows the form again with each error beside its
// field; nothing is written.
func (s *Server) openIncident(w http.ResponseWriter, r *http.Request, in *info) {
	if err := s.app.Require(r.Context(), in.actor, "", "open an incident", breach.RoleDPO); err != nil {
		s.fail(w, r, err)
		return
	}
	f := submitted(r.PostForm)
	incIn, parseErrs := parseIncident(r.PostForm)
	if len(parseErrs) > 0 {
		// Report the values that could not be read with the rest of what is wrong.
		all := parseErrs
		var es breach.Errors
		if err := incIn.Validate(s.now()); err != nil && asErrors(err, &es) {
			all = append(all, es...)
		}
		withErrors(&f, in.lang, all, incidentFields...)
		s.showNewIncident(w, r, in, http.StatusUnprocessableEntity, f)
		return
	}
	inc, _, err := s.app.OpenIncident(r.Context(), in.actor, incIn)
	if err != nil {
		if inc.ID == "" && withErrors(&f, in.lang, err, incidentFields...) {
			s.showNewIncident(w, r, in, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+inc.ID+"/assess", "opened")
}

// workflowTimeout bounds the reading of the workflow histories the incident
// page's timeline merges: a slow or unreachable Temporal leaves the page
// with its audit rows and a notice, never a slow page.
const workflowTimeout = 1500 * time.Millisecond

// incidentData gathers what the incident page shows; withWorkflows merges
// the workflow events into the timeline (the full page, not its polled part).
func (s *Server) incidentData(r *http.Request, in *info, id string, withWorkflows bool) (webui.IncidentView, app.IncidentView, error) {
	ctx := r.Context()
	iv, err := s.app.Incident(ctx, in.actor, id)
	if err != nil {
		return webui.IncidentView{}, iv, err
	}
	rows, err := s.app.Timeline(ctx, in.actor, id)
	if err != nil {
		return webui.IncidentView{}, iv, err
	}
	names, err := s.app.Directory(ctx, in.actor)
	if err != nil {
		return webui.IncidentView{}, iv, err
	}
	st := app.StateOf(iv)
	v := webui.IncidentView{
		Incident: iv.Incident, Filings: iv.Filings, Names: names,
		CanAudit:  in.actor.Role == breach.RoleAuditor || in.actor.Role == breach.RoleDPO,
		Deadlines: deadlineRows(iv, st, rows),
		Drafts:    draftGroups(iv.Drafts),
	}
	if n := len(iv.Assessments); n > 0 {
		v.Assessment = &iv.Assessments[n-1]
	}
	for _, a := range app.Actions(in.actor, st) {
		v.Actions = append(v.Actions, stepView(id, a))
		if a.Kind == app.StepClose {
			f := newForm()
			v.CloseForm = &f
		}
	}
	// The letters' progress: counters only, whatever the number of people.
	ps, err := s.app.PeopleStatus(ctx, in.actor, id)
	if err != nil {
		return webui.IncidentView{}, iv, err
	}
	v.People = &webui.PeopleProgress{Counts: ps.Counts, Total: ps.Total, Done: ps.Done}
	// The follow-up's alerts and reports, for the DPO and the auditors.
	if v.CanAudit {
		m, err := s.app.MonitoringStatus(ctx, in.actor, id, false)
		if err != nil {
			return webui.IncidentView{}, iv, err
		}
		v.Monitoring = &webui.MonitoringLists{Alerts: m.Alerts, Reports: m.Reports}
	}
	// The forced password reset: counters and the track's row only.
	as, err := s.app.AccountsStatus(ctx, in.actor, id)
	if err != nil {
		return webui.IncidentView{}, iv, err
	}
	v.Accounts = accountsProgress(as)
	for _, a := range app.Waiting(st) {
		v.Waiting = append(v.Waiting, stepView(id, a))
	}
	for _, row := range rows {
		v.Timeline = append(v.Timeline, timelineRow(in.lang, names, row))
	}
	// The workflows' events, for those who may read the histories (the
	// approvers read the decisions only).
	if withWorkflows && v.CanAudit && s.app.Temporal != nil {
		wctx, cancel := context.WithTimeout(ctx, workflowTimeout)
		evs, err := s.app.WorkflowTimeline(wctx, in.actor, id, s.dc)
		cancel()
		if err != nil {
			s.logger.Warn("incident page: workflow events unavailable", "incident", id, "error", err)
			v.WorkflowsUnavailable = true
		}
		for _, e := range evs {
			v.Timeline = append(v.Timeline, workflowRow(in.lang, e))
		}
		// Merged by time; equal times keep the audit row first.
		slices.SortStableFunc(v.Timeline, func(a, b webui.TimelineRow) int { return a.At.Compare(b.At) })
	}
	return v, iv, nil
}

// workflowRow tells a workflow event in a line: which workflow, what happened.
func workflowRow(l i18n.Lang, e app.WorkflowEvent) webui.TimelineRow {
	t := webui.TimelineRow{At: e.At, Workflow: true, Who: workflowName(l, e.Workflow),
		Action: l.T("wf."+string(e.Kind), e.Name), Detail: e.Detail}
	switch e.Kind {
	case app.ChildStarted:
		t.Action = l.T("wf.child_started", workflowName(l, e.Name))
	case app.WorkflowStarted, app.ContinuedAsNew, app.WorkflowCompleted, app.WorkflowFailed, app.WorkflowCanceled, app.WorkflowEnded:
		t.Action = l.T("wf." + string(e.Kind))
	}
	return t
}

// workflowName names one of the incident's workflows: the incident's own,
// a regime's ("RGPD"), the people's.
func workflowName(l i18n.Lang, short string) string {
	switch short {
	case "incident":
		return l.T("wf.incident")
	case "people":
		return l.T("wf.people")
	case "monitoring":
		return l.T("wf.monitoring")
	}
	return l.Code("regime", short)
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request, in *info) {
	v, _, err := s.incidentData(r, in, r.PathValue("id"), true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, webui.Incident(s.page(r, v.Incident.Title, "register"), v))
}

// incidentLive is the polled part of the incident page.
func (s *Server) incidentLive(w http.ResponseWriter, r *http.Request, in *info) {
	v, _, err := s.incidentData(r, in, r.PathValue("id"), false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, webui.IncidentLive(s.page(r, v.Incident.Title, "register"), v))
}

// deadlineRows are the incident's deadlines with the reminders and
// escalations the workflows recorded for each.
func deadlineRows(iv app.IncidentView, st app.IncidentState, rows []store.AuditRow) []webui.DeadlineRow {
	out := make([]webui.DeadlineRow, 0, len(iv.Deadlines))
	for _, d := range iv.Deadlines {
		out = append(out, webui.DeadlineRow{
			Deadline: d,
			Applies:  !(d.Regime == breach.RegimeGDPR && st.Assessed && st.Decided == breach.RiskNone),
		})
	}
	for _, row := range rows {
		if row.Action != "deadline.reminder" && row.Action != "deadline.escalation" {
			continue
		}
		var a struct {
			Regime breach.RegimeCode `json:"regime"`
			Stage  breach.StageCode  `json:"stage"`
		}
		if json.Unmarshal(row.After, &a) != nil {
			continue
		}
		for i := range out {
			if out[i].Regime == a.Regime && out[i].Stage == a.Stage {
				if row.Action == "deadline.escalation" {
					out[i].Escalated = true
				} else {
					at := row.At
					out[i].Reminders++
					out[i].LastReminder = &at
				}
			}
		}
	}
	return out
}

// draftGroups groups the versions by draft, newest version first.
func draftGroups(ds []breach.DraftVersion) []webui.DraftGroup {
	var out []webui.DraftGroup
	index := map[breach.DraftKey]int{}
	for _, d := range ds {
		i, ok := index[d.Key]
		if !ok {
			i = len(out)
			index[d.Key] = i
			out = append(out, webui.DraftGroup{Key: d.Key})
		}
		out[i].Versions = append(out[i].Versions, d)
	}
	for _, g := range out {
		slices.SortFunc(g.Versions, func(a, b breach.DraftVersion) int { return b.Version - a.Version })
	}
	return out
}

// timelineRow tells an audit row in a line: what, by whom, and the one
// detail that matters for it.
func timelineRow(l i18n.Lang, names map[string]string, row store.AuditRow) webui.TimelineRow {
	t := webui.TimelineRow{ID: row.ID, At: row.At, Who: who(l, names, row.ActorID), Role: row.ActorRole,
		Action: l.Code("audit", row.Action)}
	var a map[string]any
	_ = json.Unmarshal(row.After, &a)
	str := func(k string) string {
		if v, ok := a[k].(string); ok {
			return v
		}
		return ""
	}
	num := func(k string) string {
		if v, ok := a[k].(float64); ok {
			return fmt.Sprint(int64(v))
		}
		return ""
	}
	key := func() string {
		k, _ := a["key"].(map[string]any)
		if k == nil {
			return ""
		}
		regime, _ := k["regime"].(string)
		stage, _ := k["stage"].(string)
		return l.Code("regime", regime) + " · " + l.Code("stage", stage)
	}
	switch row.Action {
	case "assessment.decided":
		t.Detail = l.T("timeline.decided", l.Code("risk", str("decided")))
		if b, _ := a["overridden"].(bool); b {
			t.Detail += " (" + l.T("incident.overridden") + ")"
		}
	case "draft.saved", "draft.approved", "draft.returned":
		t.Detail = key() + " · " + l.T("draft.version", atoi(num("version")))
		if c := str("comment"); c != "" {
			t.Detail += " — " + c
		}
	case "filing.recorded":
		t.Detail = key() + " · " + str("reference")
		if b, _ := a["late"].(bool); b {
			t.Detail += " (" + l.T("filing.late") + ")"
		}
	case "deadline.reminder", "deadline.escalation":
		t.Detail = l.Code("regime", str("regime")) + " · " + l.Code("stage", str("stage"))
		if due, err := time.Parse(time.RFC3339Nano, str("due_at")); err == nil {
			t.Detail += " · " + l.T("timeline.due", l.Time(due))
		}
	case "monitoring.alert":
		if k := str("signal_kind"); k != "" {
			t.Detail = l.Code("signal", k) + " · " + num("observed") + " / " + num("threshold")
		} else {
			t.Detail = l.T("monitoring.alert_letter")
		}
	case "reminder.started":
		t.Detail = l.T("monitoring.round", num("round"), num("people"))
	case "update.rejected":
		t.Detail = strings.TrimSpace(str("action") + ": " + str("reason"))
	case "incident.aware_at_changed":
		if at, err := time.Parse(time.RFC3339Nano, str("aware_at")); err == nil {
			t.Detail = l.Time(at)
		}
	}
	return t
}

// who names the actor of an audit row.
func who(l i18n.Lang, names map[string]string, id string) string {
	switch id {
	case "system":
		return l.T("actor.system")
	case "anonymous":
		return l.T("actor.anonymous")
	}
	return webui.Name(names, id)
}

// assessFields are the assessment form's fields.
var assessFields = []string{"risk", "exemption", "reason"}

func (s *Server) assessPage(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateAssess, breach.RoleDPO); err != nil {
		s.fail(w, r, err)
		return
	}
	s.showAssess(w, r, in, id, http.StatusOK, newForm())
}

func (s *Server) showAssess(w http.ResponseWriter, r *http.Request, in *info, id string, status int, f webui.Form) {
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proposal, err := s.app.Proposal(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.AssessView{Incident: iv.Incident, Proposal: proposal, Form: f}
	if n := len(iv.Assessments); n > 0 {
		v.Current = &iv.Assessments[n-1]
	}
	s.render(w, r, status, webui.Assess(s.page(r, in.lang.T("assess.title"), "register"), v))
}

func (s *Server) assess(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	f := submitted(r.PostForm)
	u := workflows.AssessUpdate{Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	if rk := r.PostForm.Get("risk"); rk != "" {
		risk := breach.Risk(rk)
		if !risk.Valid() {
			f.Errors["risk"] = in.lang.T("form.choose_one")
		}
		u.Risk = &risk
	}
	if e := r.PostForm.Get("exemption"); e != "" {
		ex := breach.Exemption(e)
		if !slices.Contains([]breach.Exemption{breach.ExemptionUnintelligible, breach.ExemptionMitigated, breach.ExemptionDisproportion}, ex) {
			f.Errors["exemption"] = in.lang.T("form.choose_one")
		}
		u.Exemption = &ex
	}
	if u.Reason == "" {
		f.Errors["reason"] = in.lang.T("form.reason_required")
	}
	if len(f.Errors) > 0 {
		// Refused before anything is sent, so that nothing is written;
		// the role is still checked first.
		if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateAssess, breach.RoleDPO); err != nil {
			s.fail(w, r, err)
			return
		}
		s.showAssess(w, r, in, id, http.StatusUnprocessableEntity, f)
		return
	}
	if _, err := s.app.Assess(r.Context(), in.actor, id, f.RequestID, u); err != nil {
		if withErrors(&f, in.lang, err, assessFields...) {
			s.showAssess(w, r, in, id, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+id, "assessed")
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	f := submitted(r.PostForm)
	summary := strings.TrimSpace(r.PostForm.Get("summary"))
	err := s.app.Close(r.Context(), in.actor, id, f.RequestID, workflows.CloseUpdate{Summary: summary})
	if err == nil {
		redirect(w, r, "/incidents/"+id, "closed")
		return
	}
	if !withErrors(&f, in.lang, err, "summary") {
		s.fail(w, r, err)
		return
	}
	v, _, verr := s.incidentData(r, in, id, true)
	if verr != nil {
		s.fail(w, r, verr)
		return
	}
	v.CloseForm = &f
	s.render(w, r, http.StatusUnprocessableEntity, webui.Incident(s.page(r, v.Incident.Title, "register"), v))
}

func asErrors(err error, es *breach.Errors) bool {
	e, ok := err.(breach.Errors)
	if ok {
		*es = e
	}
	return ok
}

// accountsProgress is the credential track's part of the incident page.
func accountsProgress(as app.AccountsStatus) *webui.AccountsProgress {
	p := &webui.AccountsProgress{State: breach.TrackIdle, Counts: as.Counts, Handled: as.Counts.Done + as.Counts.Failed,
		CompletedPc: as.CompletionRate}
	if tr := as.Track; tr != nil {
		started := tr.StartedAt
		p.State, p.Round, p.StartedAt = tr.State, tr.Round, &started
		p.LastError, p.Paused, p.PollError = tr.LastError, tr.PausedReason, tr.PollError
		var c struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(tr.Config, &c) == nil {
			p.Connector = c.Kind
		}
	}
	for _, d := range as.Daily {
		p.Daily = append(p.Daily, webui.DayCompletions{Day: d.Day, Completed: d.Completed})
	}
	return p
}
