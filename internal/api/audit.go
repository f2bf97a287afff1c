package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/register"
	"github.com/breach-engine/breach/internal/store"
)

func (s *Server) incidentAudit(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	rows, err := s.App.AuditLog(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	rows, err := s.App.AuditLog(r.Context(), actor, "")
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	anchor, err := store.ParseAuditHash("anchor", r.URL.Query().Get("anchor"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	v, err := s.App.VerifyAuditAnchor(r.Context(), actor, anchor)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// register exports the Art. 33(5) register as JSON (default) or CSV.
func (s *Server) register(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		writeError(w, s.Logger, breach.Invalid("format", "must be json or csv"))
		return
	}
	entries, err := s.App.Register(r.Context(), actor)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="breach-register.csv"`)
		if err := register.WriteCSV(w, entries); err != nil {
			s.Logger.Error("write register csv", "err", err)
		}
		return
	}
	writeJSON(w, http.StatusOK, register.Rows(entries))
}
