package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// The follow-up monitoring: abuse signals from the organisation (signed
// webhook), the reminder letter, the alerts and reports.
func (s *Server) monitoringRoutes(mux *http.ServeMux, authed func(string, func(http.ResponseWriter, *http.Request, breach.Actor))) {
	s.signed(mux, "POST /api/v1/incidents/{id}/signals", s.recordSignals)
	authed("GET /api/v1/incidents/{id}/reminders", s.listReminders)
	authed("POST /api/v1/incidents/{id}/reminders", s.saveReminder)
	authed("POST /api/v1/incidents/{id}/reminders/decisions", s.decideReminder)
	authed("GET /api/v1/incidents/{id}/monitoring", s.monitoring)
	authed("GET /api/v1/incidents/{id}/monitoring/alerts", s.monitoringAlerts)
	authed("GET /api/v1/incidents/{id}/monitoring/reports", s.monitoringReports)
	authed("GET /api/v1/incidents/{id}/monitoring/reports/{report}", s.monitoringReport)
}

// signalsBody is the webhook's body; decoded strictly (unknown fields are
// refused, naming the field).
type signalsBody struct {
	Signals []breach.AbuseSignal `json:"signals"`
}

func (s *Server) recordSignals(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var b signalsBody
	if err := decode(r, &b); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	res, err := s.App.RecordSignals(r.Context(), actor, r.PathValue("id"), b.Signals)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (s *Server) listReminders(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	ls, err := s.App.Reminders(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ls)
}

func (s *Server) saveReminder(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.SaveReminderUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	ref, err := s.App.SaveReminder(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, ref)
}

func (s *Server) decideReminder(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.DecideLetterUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	st, err := s.App.DecideReminder(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) monitoring(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	m, err := s.App.MonitoringStatus(r.Context(), actor, r.PathValue("id"), true)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) monitoringAlerts(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	m, err := s.App.MonitoringStatus(r.Context(), actor, r.PathValue("id"), false)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, m.Alerts)
}

func (s *Server) monitoringReports(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	m, err := s.App.MonitoringStatus(r.Context(), actor, r.PathValue("id"), false)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, m.Reports)
}

// monitoringReport serves one report: JSON (the summary and hash), or with
// ?format=html the HTML exactly as stored and mailed.
func (s *Server) monitoringReport(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	rep, html, err := s.App.MonitoringReport(r.Context(), actor, r.PathValue("id"), r.PathValue("report"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if r.URL.Query().Get("format") == "html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("X-Content-SHA256", rep.ContentHash)
		_, _ = w.Write(html)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
