package api

import (
	"net/http"
	"strconv"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/workflows"
)

// The people track: letters, their approval and preview, the send and its
// progress.
func (s *Server) deliveryRoutes(authed func(string, func(http.ResponseWriter, *http.Request, breach.Actor))) {
	authed("GET /api/v1/incidents/{id}/letters", s.listLetters)
	authed("POST /api/v1/incidents/{id}/letters", s.saveLetter)
	authed("POST /api/v1/incidents/{id}/letters/decisions", s.decideLetter)
	authed("GET /api/v1/incidents/{id}/letters/{lang}/preview", s.previewLetter)
	authed("POST /api/v1/incidents/{id}/people/send", s.startSend)
	authed("POST /api/v1/incidents/{id}/people/send/{action}", s.controlSend)
	authed("GET /api/v1/incidents/{id}/people/status", s.peopleStatus)
}

func (s *Server) listLetters(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	ls, err := s.App.Letters(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, ls)
}

func (s *Server) saveLetter(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.SaveLetterUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	ref, err := s.App.SaveLetter(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, ref)
}

func (s *Server) decideLetter(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.DecideLetterUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	st, err := s.App.DecideLetter(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// previewLetter renders the letter: ?version=N (default: the current one),
// ?person=ID (default: the preview person), ?format=html (default), text or
// json (subject, hash and both parts).
func (s *Server) previewLetter(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	q := r.URL.Query()
	version, person := 0, int64(0)
	var err error
	if v := q.Get("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			writeError(w, s.Logger, breach.Invalid("version", "must be a positive number"))
			return
		}
	}
	if v := q.Get("person"); v != "" {
		if person, err = strconv.ParseInt(v, 10, 64); err != nil || person < 1 {
			writeError(w, s.Logger, breach.Invalid("person", "must be a person ID (1..)"))
			return
		}
	}
	p, err := s.App.PreviewLetter(r.Context(), actor, r.PathValue("id"), breach.Language(r.PathValue("lang")), version, person)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	w.Header().Set("X-Content-Hash", p.ContentHash)
	switch q.Get("format") {
	case "", "html":
		// A letter to read, never a page that runs code.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(p.HTML)
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(p.Text)
	case "json":
		writeJSON(w, http.StatusOK, map[string]any{"letter": p, "html": string(p.HTML), "text": string(p.Text)})
	default:
		writeError(w, s.Logger, breach.Invalid("format", "must be html, text or json"))
	}
}

func (s *Server) startSend(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	var u workflows.StartSendUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, s.Logger, err)
		return
	}
	st, err := s.App.StartSend(r.Context(), actor, r.PathValue("id"), requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (s *Server) controlSend(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	action := map[string]string{
		"pause": workflows.UpdatePauseSend, "resume": workflows.UpdateResumeSend, "cancel": workflows.UpdateCancelSend,
	}[r.PathValue("action")]
	if action == "" {
		writeError(w, s.Logger, breach.Errorf(breach.ErrNotFound, "no such action: pause, resume or cancel"))
		return
	}
	var u workflows.SendControlUpdate
	if r.ContentLength != 0 {
		if err := decode(r, &u); err != nil {
			writeError(w, s.Logger, err)
			return
		}
	}
	st, err := s.App.ControlSend(r.Context(), actor, r.PathValue("id"), action, requestID(r), u)
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) peopleStatus(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	st, err := s.App.PeopleStatus(r.Context(), actor, r.PathValue("id"))
	if err != nil {
		writeError(w, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
