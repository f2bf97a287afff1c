package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/config"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/idp"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/temporalclient"
	"github.com/breach-engine/breach/internal/vault"
)

// connect opens the store and the Temporal client an external deployment
// needs (serve and worker).
func connect(ctx context.Context, cfg config.Config, logger *slog.Logger) (*engine.Engine, func(), error) {
	if err := cfg.Require("BREACH_DATABASE_URL", "BREACH_PAYLOAD_KEY", "BREACH_DATA_KEY"); err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	cdc, err := codec.FromSpec(cfg.PayloadKey)
	if err != nil {
		return nil, nil, &usageError{"BREACH_PAYLOAD_KEY: " + err.Error()}
	}
	vlt, err := vault.FromSpec(cfg.DataKey)
	if err != nil {
		return nil, nil, &usageError{"BREACH_DATA_KEY: " + err.Error()}
	}
	mailer, err := newMailer(cfg) // the letters to the people (BREACH_SMTP_*)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	tc, err := temporalclient.Dial(ctx, temporalclient.FromConfig(cfg, engine.DataConverter(cdc), logger))
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	e := &engine.Engine{
		Store: st, Temporal: tc, Codec: cdc, TaskQueue: cfg.TaskQueue,
		ReminderOffsets: cfg.ReminderOffsets, CORSOrigin: cfg.CodecCORSOrigin, Logger: logger,
		RetentionAfterClose: cfg.RetentionAfterClose, // then the purge (BREACH_RETENTION_AFTER_CLOSE)
		MonitoringPeriod:    cfg.MonitoringPeriod,    // the follow-up after the reset (BREACH_MONITORING_PERIOD)
		Mailer:              mailer,
		Vault:               vlt, // contact data of affected people (BREACH_DATA_KEY)
		InsecureCookies:     !cfg.CookieSecure,
		OIDC:                oidcOptions(cfg), // sign-in through a provider (BREACH_OIDC_*), off when unset
		InboundSecrets:      cfg.InboundSecrets,
		IdP:                 idp.Options{SecretDir: cfg.IdPSecretDir, Logger: logger},
	}
	return e, func() { tc.Close(); st.Close() }, nil
}

// withEngine runs fn with an engine connected to the external Temporal and
// Postgres of the configuration (serve and worker share this).
func withEngine(cmd *cobra.Command, fn func(cfg config.Config, e *engine.Engine, logger *slog.Logger) error) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := cfg.Logger(os.Stderr)
	e, closeAll, err := connect(cmd.Context(), cfg, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	return fn(cfg, e, logger)
}

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (JSON API, codec endpoint) against external Temporal and Postgres",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd, func(cfg config.Config, e *engine.Engine, logger *slog.Logger) error {
				logger.Info("serving", "addr", cfg.HTTPAddr)
				return e.Serve(cmd.Context(), cfg.HTTPAddr)
			})
		},
	}
}

func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run a Temporal worker (incident workflows and activities); run as many as needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withEngine(cmd, func(cfg config.Config, e *engine.Engine, logger *slog.Logger) error {
				logger.Info("worker polling", "task_queue", cfg.TaskQueue, "namespace", cfg.TemporalNamespace)
				workerGC()
				return e.RunWorker(cmd.Context(), worker.Options{})
			})
		},
	}
}

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations (safe to run concurrently: advisory lock)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if err := cfg.Require("BREACH_DATABASE_URL"); err != nil {
				return &usageError{err.Error()}
			}
			if err := store.Migrate(cmd.Context(), cfg.DatabaseURL); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
			return nil
		},
	}
}
