package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

func (s *Server) openIncident(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var in breach.IncidentInput
	if err := decode(r, &in); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	inc, created, err := s.App.OpenIncident(r.Context(), actor, in)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/v1/incidents/"+inc.ID)
	writeJSON(w, status, inc)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	list, err := s.App.Incidents(r.Context(), actor)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if list == nil {
		list = []breach.Incident{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	v, err := s.App.Incident(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) proposal(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	a, err := s.App.Proposal(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) assess(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.AssessUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	res, err := s.App.Assess(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) changeAwareAt(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.ChangeAwareAtUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if err := s.App.ChangeAwareAt(r.Context(), actor, r.PathValue("id"), requestID(r), u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	s.getIncident(w, r, actor)
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.CloseUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	if err := s.App.Close(r.Context(), actor, r.PathValue("id"), requestID(r), u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	s.getIncident(w, r, actor)
}
