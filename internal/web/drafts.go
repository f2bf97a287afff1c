package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	webui "github.com/breach-engine/breach/templates/web"
	"github.com/breach-engine/breach/workflows"
)

// currentVersion is the highest version of a draft key, nil when none.
func currentVersion(ds []breach.DraftVersion, key breach.DraftKey) *breach.DraftVersion {
	var cur *breach.DraftVersion
	for i := range ds {
		d := &ds[i]
		if d.Key == key && (cur == nil || d.Version > cur.Version) {
			cur = d
		}
	}
	return cur
}

// dueOf is when a stage of a regime is due for the incident, and whether
// that time has passed.
func (s *Server) dueOf(iv app.IncidentView, regime breach.RegimeCode, stage breach.StageCode) (*time.Time, bool) {
	for _, d := range iv.Deadlines {
		if d.Regime == regime && d.Stage == stage && !d.Filed {
			due := d.DueAt
			return &due, s.now().After(due)
		}
	}
	return nil, false
}

// draftKeyOf reads the draft key of a request: regime from the path, stage
// and seq from the query or form.
func draftKeyOf(r *http.Request, stage, seq string) breach.DraftKey {
	return breach.DraftKey{Regime: breach.RegimeCode(r.PathValue("regime")), Stage: breach.StageCode(stage), Seq: atoi(seq)}
}

func (s *Server) draftFormPage(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateSaveDraft, breach.RoleDPO, breach.RoleApprover); err != nil {
		s.fail(w, r, err)
		return
	}
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	key := draftKeyOf(r, q.Get("stage"), q.Get("seq"))
	f := newForm()
	base := 0
	if cur := currentVersion(iv.Drafts, key); key.Seq > 0 && cur != nil && cur.State != breach.DraftFiled {
		base = cur.Version
		f.Values = draftValues(cur.Fields)
	} else {
		f.Values.Set("language", string(in.lang))
	}
	s.showDraftForm(w, r, in, iv, key, base, http.StatusOK, f)
}

func (s *Server) showDraftForm(w http.ResponseWriter, r *http.Request, in *info, iv app.IncidentView, key breach.DraftKey, base, status int, f webui.Form) {
	if _, ok := breach.Regimes[key.Regime]; !ok {
		s.fail(w, r, breach.Errorf(breach.ErrNotFound, "no such regime"))
		return
	}
	if _, ok := breach.Regimes[key.Regime].Stage(key.Stage); !ok {
		s.fail(w, r, breach.Errorf(breach.ErrNotFound, "no such stage"))
		return
	}
	v := webui.DraftFormView{Incident: iv.Incident, Key: key, BaseVersion: base, Form: f}
	v.DueAt, v.Late = s.dueOf(iv, key.Regime, key.Stage)
	s.render(w, r, status, webui.DraftForm(s.page(r, in.lang.T("draftform.title"), "register"), v))
}

// saveDraft writes a new version; the author then waits for an approver.
func (s *Server) saveDraft(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateSaveDraft, breach.RoleDPO, breach.RoleApprover); err != nil {
		s.fail(w, r, err)
		return
	}
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key := draftKeyOf(r, r.PostForm.Get("stage"), r.PostForm.Get("seq"))
	base := atoi(r.PostForm.Get("base_version"))
	f := submitted(r.PostForm)
	fields := parseDraftFields(r.PostForm)
	if err := fields.Validate(); err != nil {
		withErrors(&f, in.lang, err, draftFields...)
	}
	// Past the deadline the text must say why it is late (Art. 33(1)): asked
	// now rather than refused at approval.
	if _, late := s.dueOf(iv, key.Regime, key.Stage); late && fields.DelayReasons == "" {
		f.Errors["delay_reasons"] = in.lang.T("form.delay_required")
	}
	if f.HasErrors() {
		s.showDraftForm(w, r, in, iv, key, base, http.StatusUnprocessableEntity, f)
		return
	}
	ref, err := s.app.SaveDraft(r.Context(), in.actor, id, key.Regime, f.RequestID, workflows.SaveDraftUpdate{
		Stage: key.Stage, Seq: key.Seq, BaseVersion: base, Fields: fields,
	})
	if err != nil {
		if withErrors(&f, in.lang, err, draftFields...) {
			s.showDraftForm(w, r, in, iv, key, base, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+id+"/drafts/"+ref.ID, "draft_saved")
}

func (s *Server) draftPage(w http.ResponseWriter, r *http.Request, in *info) {
	s.showDraft(w, r, in, http.StatusOK, newForm())
}

func (s *Server) showDraft(w http.ResponseWriter, r *http.Request, in *info, status int, f webui.Form) {
	iv, d, ok := s.draftOfPath(w, r, in)
	if !ok {
		return
	}
	names, err := s.app.Directory(r.Context(), in.actor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := app.StateOf(iv)
	v := webui.DraftView{
		Incident: iv.Incident, Draft: d, Form: f, Names: names,
		MayDecide: app.MayDecide(in.actor, st, d),
		IsAuthor:  in.actor.UserID == d.DraftedBy || in.actor.UserID == d.EditedBy,
	}
	for _, o := range iv.Drafts {
		if o.Key == d.Key {
			v.Versions = append(v.Versions, o)
			if o.Version == d.Version-1 {
				prev := o
				v.Previous = &prev
			}
		}
	}
	slices.SortFunc(v.Versions, func(a, b breach.DraftVersion) int { return b.Version - a.Version })
	if v.Previous != nil {
		v.Diff = draftDiff(
			func(n string) string { return draftText(v.Previous.Fields, n) },
			func(n string) string { return draftText(d.Fields, n) })
	}
	for _, a := range app.Actions(in.actor, st) {
		if a.DraftID != d.ID {
			continue
		}
		switch a.Kind {
		case app.StepFile:
			v.MayFile = true
		case app.StepEditDraft, app.StepRevise:
			v.MayEdit = true
		}
	}
	title := in.lang.Code("regime", string(d.Key.Regime)) + " · " + in.lang.T("draft.version", d.Version)
	s.render(w, r, status, webui.Draft(s.page(r, title, "register"), v))
}

// dossier serves a version's stored HTML as it was approved and will be
// filed: a document with its own policy (no script, nothing loaded), shown
// in a sandboxed iframe of the draft page.
func (s *Server) dossier(w http.ResponseWriter, r *http.Request, in *info) {
	html, err := s.app.DraftHTML(r.Context(), in.actor, r.PathValue("id"), r.PathValue("draft"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", dossierCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(html)
}

// monitoringReport serves a monitoring report's HTML exactly as stored and
// mailed to the DPO ("<report id>.html"), under the dossier's policy.
func (s *Server) monitoringReport(w http.ResponseWriter, r *http.Request, in *info) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".html")
	if !ok {
		s.notFound(w, r)
		return
	}
	rep, html, err := s.app.MonitoringReport(r.Context(), in.actor, r.PathValue("id"), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", dossierCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-SHA256", rep.ContentHash)
	_, _ = w.Write(html)
}

// decide approves a version or sends it back with a comment. The author of
// the version sees no button; the workflow refuses them anyway (403, audited).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	_, d, ok := s.draftOfPath(w, r, in)
	if !ok {
		return
	}
	f := submitted(r.PostForm)
	approve := r.PostForm.Get("decision") == "approve"
	u := workflows.DecideDraftUpdate{
		Stage: d.Key.Stage, Seq: d.Key.Seq, Version: d.Version, Approve: approve,
		Comment: strings.TrimSpace(r.PostForm.Get("comment")),
	}
	if !approve && u.Comment == "" {
		if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateDecideDraft, breach.RoleApprover); err != nil {
			s.fail(w, r, err)
			return
		}
		f.Errors["comment"] = in.lang.T("form.comment_required")
		s.showDraft(w, r, in, http.StatusUnprocessableEntity, f)
		return
	}
	if err := s.app.DecideDraft(r.Context(), in.actor, id, d.Key.Regime, f.RequestID, u); err != nil {
		if withErrors(&f, in.lang, err, "comment") {
			s.showDraft(w, r, in, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	done := "returned"
	if approve {
		done = "approved"
	}
	redirect(w, r, "/incidents/"+id+"/drafts/"+d.ID, done)
}

// channels are the ways to file with each regime's authority.
var channels = map[breach.RegimeCode][]string{
	breach.RegimeGDPR: {"cnil_online", "email", "post"},
	breach.RegimeNIS2: {"anssi_portal", "email"},
}

var filingFields = []string{"reference", "filed_at", "channel", "delay_reasons"}

// approvedVersion is the version of a draft key that can be filed.
func approvedVersion(iv app.IncidentView, key breach.DraftKey) (breach.DraftVersion, error) {
	cur := currentVersion(iv.Drafts, key)
	if cur == nil || cur.State != breach.DraftApproved {
		return breach.DraftVersion{}, breach.Errorf(breach.ErrConflict, "no approved version to file")
	}
	return *cur, nil
}

func (s *Server) filingPage(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateRecordFiling, breach.RoleDPO); err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm()
	f.Values.Set("filed_at", localValue(s.now()))
	s.showFiling(w, r, in, draftKeyOf(r, r.URL.Query().Get("stage"), r.URL.Query().Get("seq")), http.StatusOK, f)
}

func (s *Server) showFiling(w http.ResponseWriter, r *http.Request, in *info, key breach.DraftKey, status int, f webui.Form) {
	iv, err := s.app.Incident(r.Context(), in.actor, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := approvedVersion(iv, key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := webui.FilingView{Incident: iv.Incident, Draft: d, Form: f, Channels: channels[key.Regime]}
	v.DueAt, v.Late = s.dueOf(iv, key.Regime, key.Stage)
	s.render(w, r, status, webui.Filing(s.page(r, in.lang.T("filing.page_title"), "register"), v))
}

// recordFiling records the authority's receipt of the approved version. A
// filing past the deadline must give the reasons for the delay (Art. 33(1)).
func (s *Server) recordFiling(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if err := s.app.Require(r.Context(), in.actor, id, workflows.UpdateRecordFiling, breach.RoleDPO); err != nil {
		s.fail(w, r, err)
		return
	}
	key := draftKeyOf(r, r.PostForm.Get("stage"), r.PostForm.Get("seq"))
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := approvedVersion(iv, key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := submitted(r.PostForm)
	l := in.lang
	u := workflows.RecordFilingUpdate{
		Stage: key.Stage, Seq: key.Seq,
		Reference:    strings.TrimSpace(r.PostForm.Get("reference")),
		Channel:      r.PostForm.Get("channel"),
		DelayReasons: strings.TrimSpace(r.PostForm.Get("delay_reasons")),
	}
	if u.Reference == "" {
		f.Errors["reference"] = l.T("form.reference_required")
	}
	if !slices.Contains(channels[key.Regime], u.Channel) {
		f.Errors["channel"] = l.T("form.choose_one")
	}
	switch at, err := localTime(r.PostForm.Get("filed_at")); {
	case strings.TrimSpace(r.PostForm.Get("filed_at")) == "":
		f.Errors["filed_at"] = l.Field("required")
	case err != nil:
		f.Errors["filed_at"] = l.Field("not a date and time")
	case at.After(s.now().Add(breach.ClockSkew)):
		f.Errors["filed_at"] = l.Field("is in the future")
	default:
		u.FiledAt = at
		if due, _ := s.dueOf(iv, key.Regime, key.Stage); due != nil && at.After(*due) && u.DelayReasons == "" && d.Fields.DelayReasons == "" {
			f.Errors["delay_reasons"] = l.T("form.delay_required")
		}
	}
	if f.HasErrors() {
		s.showFiling(w, r, in, key, http.StatusUnprocessableEntity, f)
		return
	}
	if _, err := s.app.RecordFiling(r.Context(), in.actor, id, key.Regime, f.RequestID, u); err != nil {
		if withErrors(&f, l, err, filingFields...) {
			s.showFiling(w, r, in, key, http.StatusUnprocessableEntity, f)
			return
		}
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+id, "filed")
}

// draftOfPath loads the incident of the path and its draft version {draft};
// on failure it has answered and ok is false.
func (s *Server) draftOfPath(w http.ResponseWriter, r *http.Request, in *info) (iv app.IncidentView, d breach.DraftVersion, ok bool) {
	draftID := r.PathValue("draft")
	iv, err := s.app.Incident(r.Context(), in.actor, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return iv, d, false
	}
	i := slices.IndexFunc(iv.Drafts, func(d breach.DraftVersion) bool { return d.ID == draftID })
	if i < 0 {
		s.fail(w, r, breach.Errorf(breach.ErrNotFound, "draft version not found"))
		return iv, d, false
	}
	return iv, iv.Drafts[i], true
}
