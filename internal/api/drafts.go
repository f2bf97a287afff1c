package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

func (s *Server) saveDraft(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.SaveDraftUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	ref, err := s.App.SaveDraft(r.Context(), actor, r.PathValue("id"), pathRegime(r), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, ref)
}

func (s *Server) decideDraft(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.DecideDraftUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if err := s.App.DecideDraft(r.Context(), actor, r.PathValue("id"), pathRegime(r), requestID(r), u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"approved": u.Approve, "version": u.Version})
}

func (s *Server) recordFiling(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.RecordFilingUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	res, err := s.App.RecordFiling(r.Context(), actor, r.PathValue("id"), pathRegime(r), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) draftHTML(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	html, err := s.App.DraftHTML(r.Context(), actor, r.PathValue("id"), r.PathValue("draft"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	// The dossier is a document to read and print, never a page that runs code.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(html)
}

// draftRecord serves the JSON export of a dossier version (the same record as its HTML).
func (s *Server) draftRecord(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	record, err := s.App.DraftRecord(r.Context(), actor, r.PathValue("id"), r.PathValue("draft"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(record)
}
