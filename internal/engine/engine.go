// Package engine wires the pieces of a running engine together: the store, the
// Temporal client with the encrypting payload codec, the worker with its
// workflows and activities, and the HTTP handler. `breach serve`, `breach
// worker`, `breach dev` and the end-to-end tests all build their process from
// it, so they run the same code.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/api"
	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/vault"
	"github.com/breach-engine/breach/internal/web"
	"github.com/breach-engine/breach/workflows"
)

// Engine holds the live dependencies of one process.
type Engine struct {
	Store           *store.Store
	Temporal        client.Client
	Codec           *codec.Codec
	TaskQueue       string
	ReminderOffsets []time.Duration
	// RetentionAfterClose is carried into each new incident's workflow: how
	// long after closure its people's contact data is purged
	// (BREACH_RETENTION_AFTER_CLOSE); 0: breach.DefaultRetentionAfterClose.
	RetentionAfterClose time.Duration
	// MonitoringPeriod is carried into each new incident's workflow
	// (BREACH_MONITORING_PERIOD); 0: workflows.DefaultMonitoringPeriod.
	MonitoringPeriod time.Duration
	CORSOrigin       string
	Logger           *slog.Logger
	// InsecureCookies drops the Secure flag of the web pages' session cookie,
	// for `breach dev` on plain http (BREACH_COOKIE_SECURE=false).
	InsecureCookies bool
	// OIDC turns on sign-in to the web pages through an OpenID Connect
	// provider (BREACH_OIDC_*); nil: local accounts only.
	OIDC *web.OIDCOptions
	// Vault seals the contact data of affected people (BREACH_DATA_KEY).
	Vault *vault.Vault
	// Mailer sends the letters to the people through the relay
	// (BREACH_SMTP_*); nil: sending batches fail, and are retried, until a
	// worker with a relay takes them.
	Mailer *mail.Sender
	// DeliveryOptions are the options of the worker polling the delivery
	// task queue (NewDeliveryWorker); a zero MaxConcurrentActivityExecutionSize
	// becomes the Mailer's number of connections: one batch per connection.
	DeliveryOptions worker.Options
	// InboundSecrets verify the webhooks the organisation signs
	// (BREACH_INBOUND_SECRET): reset completions, abuse signals.
	InboundSecrets [][]byte
	// IdP are the engine-wide options of the identity-provider connectors of
	// the credential track (the secrets folder, BREACH_IDP_SECRET_DIR).
	IdP idp.Options
}

// DataConverter is the payload converter every client and worker of the engine
// uses: default JSON encoding, then AES-GCM encryption, so no personal data
// reaches Temporal's history in clear.
func DataConverter(c *codec.Codec) converter.DataConverter {
	return codec.NewDataConverter(c)
}

// App returns the use cases bound to this engine.
func (e *Engine) App() *app.Service {
	return &app.Service{
		Store: e.Store, Temporal: e.Temporal, TaskQueue: e.TaskQueue,
		ReminderOffsets: e.ReminderOffsets, Logger: e.Logger, Vault: e.Vault,
		RetentionAfterClose: e.RetentionAfterClose, MonitoringPeriod: e.MonitoringPeriod,
	}
}

// Handler returns the HTTP handler of `breach serve`: the JSON API under
// /api/v1, the codec endpoint for authenticated users of the Temporal UI and
// CLI under /codec/, and the web pages everywhere else.
func (e *Engine) Handler() http.Handler {
	srv := &api.Server{App: e.App(), Store: e.Store, Logger: e.Logger, InboundSecrets: e.InboundSecrets}
	srv.Codec = codec.Handler(e.Codec, codec.HandlerOptions{Authenticate: srv.Authenticate, CORSOrigin: e.CORSOrigin})
	api := srv.Handler()
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/codec/", api)
	pages := web.Options{App: e.App(), Logger: e.Logger, SecureCookies: !e.InsecureCookies, OIDC: e.OIDC}
	if e.Codec != nil {
		pages.Payloads = DataConverter(e.Codec)
	}
	mux.Handle("/", web.New(pages).Handler())
	return mux
}

// NewWorker returns a worker polling the engine's task queue with every
// workflow and activity registered under its fixed name.
// With it, a second worker polls the delivery task queue (see NewDeliveryWorker);
// Start, Run and Stop drive both.
func (e *Engine) NewWorker(opts worker.Options) worker.Worker {
	acts := e.Activities()
	w := worker.New(e.Temporal, e.TaskQueue, opts)
	Register(w, acts)
	return &workerPair{Worker: w, delivery: e.newDeliveryWorker(acts)}
}

// Register registers the workflows and activities on a worker or replayer.
func Register(r worker.Registry, acts *activities.Activities) {
	workflows.Register(r)
	if acts != nil {
		r.RegisterActivity(acts)
	}
}

// Run runs a worker until ctx ends.
func (e *Engine) RunWorker(ctx context.Context, opts worker.Options) error {
	w := e.NewWorker(opts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("engine: start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// Serve runs the HTTP server on addr until ctx ends, then shuts it down gracefully.
func (e *Engine) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("engine: listen on %s: %w", addr, err)
	}
	err = e.ServeListener(ctx, ln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ServeListener is Serve on a listener the caller opened (any free port in tests).
func (e *Engine) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("engine: http server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return ctx.Err()
	}
}
