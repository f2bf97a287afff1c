package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// The credential track: the DPO starts, pauses and resumes the forced reset;
// everyone who reads the incident follows it; the organisation reports
// completions by a signed webhook (no API token: the Breach-Signature).
func (s *Server) accountRoutes(mux *http.ServeMux, authed func(string, func(http.ResponseWriter, *http.Request, breach.Actor))) {
	authed("POST /api/v1/incidents/{id}/accounts/reset", s.startReset)
	authed("POST /api/v1/incidents/{id}/accounts/reset/{action}", s.controlReset)
	authed("GET /api/v1/incidents/{id}/accounts/status", s.accountsStatus)
	s.signed(mux, "POST /api/v1/incidents/{id}/accounts/completed", s.accountsCompleted)
}

func (s *Server) startReset(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.StartResetUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	v, err := s.App.StartReset(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// controlReset is pause (body {"reason": ...}) or resume (optional body
// {"config": {...}}).
func (s *Server) controlReset(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var (
		v   workflows.CredentialsView
		err error
	)
	switch r.PathValue("action") {
	case "pause":
		var u workflows.PauseResetUpdate
		if err := decode(r, &u); err != nil {
			writeError(w, s.Logger, err)
			return
		}
		v, err = s.App.PauseReset(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	case "resume":
		var u workflows.ResumeResetUpdate
		if r.ContentLength != 0 {
			if err := decode(r, &u); err != nil {
				writeError(w, s.Logger, err)
				return
			}
		}
		v, err = s.App.ResumeReset(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	default:
		writeError(w, s.Logger, breach.Errorf(breach.ErrNotFound, "no such action: pause or resume"))
		return
	}
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) accountsStatus(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	st, err := s.App.AccountsStatus(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// accountsCompleted takes a signed completion report:
//
//	{"accounts": [{"account_id": "jdupont", "completed_at": "2026-11-25T09:30:00+01:00"}, ...]}
//
// and answers 200 {"matched": n, "already": k, "unknown": m, "unknown_at": [positions]}.
func (s *Server) accountsCompleted(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var rep app.CompletionReport
	if err := decode(r, &rep); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	res, err := s.App.RecordCompletions(r.Context(), actor, r.PathValue("id"), rep)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
