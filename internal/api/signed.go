package api

import (
	"errors"
	"net/http"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/webhook"
)

// Webhooks the organisation sends to the engine (reset completions, abuse
// signals) carry no API token: each is signed with one of InboundSecrets
// (BREACH_INBOUND_SECRET) in the Breach-Signature header, within the replay
// window, and accepted once (internal/webhook). A refused one is answered
// 401, audited (update.rejected, without the body) and changes nothing.

// webhookActor is who a signed webhook acts as in the audit log.
var webhookActor = breach.Actor{UserID: "webhook"}

// signed registers h behind the signature check.
func (s *Server) signed(mux *http.ServeMux, pattern string, h func(http.ResponseWriter, *http.Request, breach.Actor)) {
	secrets := func(r *http.Request) ([][]byte, error) {
		if len(s.InboundSecrets) == 0 {
			return nil, errors.New("no inbound secret configured (BREACH_INBOUND_SECRET)")
		}
		return s.InboundSecrets, nil
	}
	mw := webhook.Middleware(secrets, s.Store, webhook.Options{
		OnReject: func(r *http.Request, err error) {
			if aerr := s.Store.RecordRejection(r.Context(), r.PathValue("id"), webhookActor, "webhook "+r.URL.Path, err.Error()); aerr != nil && s.Logger != nil {
				s.Logger.Error("audit a refused webhook", "path", r.URL.Path, "err", aerr)
			}
		},
	})
	mux.Handle(pattern, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, webhookActor)
	})))
}
