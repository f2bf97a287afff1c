package codec

import (
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"

	"github.com/breach-engine/breach/internal/breach"
)

// maxRequestBytes bounds a codec request body: the UI sends the payloads of one
// history event or page at a time; Temporal caps a payload at a few MiB.
const maxRequestBytes = 16 << 20

// HandlerOptions configure the codec HTTP endpoint.
type HandlerOptions struct {
	// Authenticate checks the request's credentials (the HTTP server's token
	// or session check). A nil error lets the request through; an error whose
	// breach.ErrorCode is ErrForbidden answers 403, any other error 401.
	// It is required: the endpoint decrypts histories.
	Authenticate func(r *http.Request) error
	// CORSOrigin is the Temporal UI's origin (scheme://host[:port]) allowed to
	// call the endpoint from a browser; empty disables CORS.
	CORSOrigin string
}

// Handler serves the Temporal codec server protocol (POST .../encode and
// .../decode with a JSON Payloads body) for the given codec, behind the
// authentication hook and, when configured, CORS for the Temporal UI. Mount it
// under a prefix such as "/codec/": the Temporal UI and CLI are then pointed at
// "<BREACH_URL>/codec". A nil Authenticate refuses every request.
func Handler(c converter.PayloadCodec, opts HandlerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	origin := strings.TrimRight(opts.CORSOrigin, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin != "" {
			w.Header().Add("Vary", "Origin")
			if r.Header.Get("Origin") == origin {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
				h.Set("Access-Control-Max-Age", "600")
			}
			// A preflight carries no credentials: answer it before authenticating.
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if opts.Authenticate == nil {
			unauthorized(w)
			return
		}
		if err := opts.Authenticate(r); err != nil {
			if breach.ErrorCode(err) == breach.ErrForbidden {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			unauthorized(w)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		inner.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="breach"`)
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}
