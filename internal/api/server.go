// Package api serves the JSON API under /api/v1. Handlers decode the request,
// call one use case of internal/app with the authenticated actor, and encode
// the result; domain errors map to HTTP statuses in writeError, in one place.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// maxBody bounds request bodies: incidents and drafts are small documents.
const maxBody = 1 << 20

// Server is the HTTP API.
type Server struct {
	App    *app.Service
	Store  *store.Store
	Logger *slog.Logger
	// Codec serves the Temporal payload codec endpoint (encode/decode) to
	// authenticated users of the Temporal UI and CLI; nil disables it.
	Codec http.Handler
	// InboundSecrets verify the organisation's signed webhooks (signed.go);
	// none: those endpoints answer 401.
	InboundSecrets [][]byte
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	authed := func(pattern string, h func(http.ResponseWriter, *http.Request, breach.Actor)) {
		mux.Handle(pattern, s.authenticate(h))
	}
	authed("GET /api/v1/me", s.me)
	authed("POST /api/v1/incidents", s.openIncident)
	authed("GET /api/v1/incidents", s.listIncidents)
	authed("GET /api/v1/incidents/{id}", s.getIncident)
	authed("GET /api/v1/incidents/{id}/proposal", s.proposal)
	authed("POST /api/v1/incidents/{id}/assessment", s.assess)
	authed("POST /api/v1/incidents/{id}/aware-at", s.changeAwareAt)
	authed("POST /api/v1/incidents/{id}/close", s.closeIncident)
	authed("POST /api/v1/incidents/{id}/regimes/{regime}/drafts", s.saveDraft)
	authed("POST /api/v1/incidents/{id}/regimes/{regime}/decisions", s.decideDraft)
	authed("POST /api/v1/incidents/{id}/regimes/{regime}/filings", s.recordFiling)
	authed("GET /api/v1/incidents/{id}/drafts/{draft}/dossier.html", s.draftHTML)
	authed("GET /api/v1/incidents/{id}/drafts/{draft}/dossier.json", s.draftRecord)
	authed("POST /api/v1/incidents/{id}/people/import", s.importPeople)
	s.deliveryRoutes(authed)        // letters, the send to the people, its status
	s.monitoringRoutes(mux, authed) // abuse signals (signed), reminders, alerts and reports
	s.accountRoutes(mux, authed)    // the forced password reset, completions (signed)
	authed("GET /api/v1/incidents/{id}/audit", s.incidentAudit)
	authed("GET /api/v1/audit", s.auditLog)
	authed("GET /api/v1/audit/verify", s.verifyAudit)
	authed("GET /api/v1/register", s.register)
	authed("GET /api/v1/users", s.listUsers)
	authed("POST /api/v1/users", s.createUser)
	authed("POST /api/v1/users/{id}/tokens", s.createToken)
	if s.Codec != nil {
		mux.Handle("/codec/", http.StripPrefix("/codec", s.Codec))
	}
	return mux
}

// authenticate resolves the bearer token to an account and passes its actor on.
func (s *Server) authenticate(h func(http.ResponseWriter, *http.Request, breach.Actor)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.userFromRequest(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="breach"`)
			writeError(w, s.Logger, &breach.Error{Code: breach.ErrUnauthenticated, Message: "a valid API token is required"})
			return
		}
		ctx := auth.WithUser(r.Context(), u)
		h(w, r.WithContext(ctx), breach.Actor{UserID: u.ID, Role: u.Role})
	})
}

// userFromRequest checks the Authorization header's bearer token.
func (s *Server) userFromRequest(r *http.Request) (auth.User, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return auth.User{}, errors.New("no bearer token")
	}
	u, err := s.Store.UserByTokenHash(r.Context(), auth.HashToken(token))
	if err != nil {
		return auth.User{}, err
	}
	return auth.User{ID: u.ID, Username: u.Username, Role: u.Role}, nil
}

// Authenticate is the check other endpoints (the codec server) share.
func (s *Server) Authenticate(r *http.Request) error {
	_, err := s.userFromRequest(r)
	return err
}

// decode reads a JSON body strictly: unknown fields are errors naming the field.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return breach.Invalid("", "trailing data after the JSON document")
	}
	return nil
}

// jsonError names the field of a JSON decoding error, never its value.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		return breach.Invalid(typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case errors.As(err, &syntaxErr):
		return breach.Invalid("", "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return breach.Invalid("", "empty request body")
	case errors.As(err, &timeErr):
		return breach.Invalid("", "a date is not in RFC 3339 format (e.g. 2026-11-25T09:30:00+01:00)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return breach.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	}
	return breach.Invalid("", "malformed request: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError maps domain errors to statuses, in one place. Internal errors are
// logged (they carry IDs and operations, never personal data) and answered
// with a generic message.
func writeError(w http.ResponseWriter, logger *slog.Logger, err error) {
	var de *breach.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) {
			return
		}
		if logger != nil {
			logger.Error("request failed", "err", err)
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": breach.Error{Code: breach.ErrInternal, Message: "internal error"}})
		return
	}
	status := map[breach.Code]int{
		breach.ErrInvalid:         http.StatusBadRequest,
		breach.ErrNotFound:        http.StatusNotFound,
		breach.ErrForbidden:       http.StatusForbidden,
		breach.ErrConflict:        http.StatusConflict,
		breach.ErrUnauthenticated: http.StatusUnauthorized,
	}[de.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]any{"error": de})
}

// requestID is the client's Idempotency-Key: the same key sends the same
// Update, which Temporal runs once.
func requestID(r *http.Request) string {
	return r.Header.Get("Idempotency-Key")
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	u, _ := auth.UserFrom(r.Context())
	writeJSON(w, http.StatusOK, u)
}

func pathRegime(r *http.Request) breach.RegimeCode {
	return breach.RegimeCode(r.PathValue("regime"))
}
