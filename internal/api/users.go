package api

import (
	"net/http"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	users, err := s.App.Accounts(r.Context(), actor)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, users)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var a app.NewAccount
	if err := decode(r, &a); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	u, err := s.App.CreateAccount(r.Context(), actor, a)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var body struct {
		Label string `json:"label"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	token, err := s.App.CreateToken(r.Context(), actor, r.PathValue("id"), body.Label)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": token})
}
