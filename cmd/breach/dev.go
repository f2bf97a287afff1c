package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/breach-engine/breach/internal/codec"
	"github.com/breach-engine/breach/internal/config"
	"github.com/breach-engine/breach/internal/devserver"
	"github.com/breach-engine/breach/internal/engine"
	"github.com/breach-engine/breach/internal/pgcluster"
	"github.com/breach-engine/breach/internal/store"
	"github.com/breach-engine/breach/internal/temporalclient"
	"github.com/breach-engine/breach/internal/vault"
)

func newDevCmd() *cobra.Command {
	var demo bool
	var temporalPort int
	cmd := &cobra.Command{
		Use:   "dev [--demo]",
		Short: "Run the whole system in one process: embedded Temporal, private Postgres, migrations, worker, HTTP",
		Long: `Starts, in one process and with local defaults:
  - the real Temporal server, embedded (SQLite under BREACH_DEV_DIR, on 127.0.0.1);
  - Postgres: BREACH_DATABASE_URL when set, otherwise a private cluster made with
    the system's PostgreSQL binaries under BREACH_DEV_DIR/postgres (run as the
    'postgres' user when breach runs as root);
  - the migrations, a worker and the HTTP server on BREACH_HTTP_ADDR.
It creates one account of each role and prints their API tokens.
With --demo it also opens a synthetic incident shaped like a 4.8-million-record
leak of job seekers' data, and walks it through assessment and approval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), cfg, temporalPort, demo)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "open a synthetic incident and move it along the regulator track")
	cmd.Flags().IntVar(&temporalPort, "temporal-port", 7233, "port of the embedded Temporal frontend on 127.0.0.1 (0: any free port)")
	return cmd
}

func runDev(ctx context.Context, out io.Writer, cfg config.Config, temporalPort int, demo bool) error {
	logger := cfg.Logger(os.Stderr)
	dir, err := filepath.Abs(cfg.DevDir)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("dev: create %s: %w", dir, err)
	}

	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		fmt.Fprintf(out, "starting a private Postgres under %s ...\n", filepath.Join(dir, "postgres"))
		cluster, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(dir, "postgres"), Logger: logger})
		if err != nil {
			return err
		}
		defer cluster.Stop()
		if err := cluster.CreateDatabase(ctx, "breach"); err != nil {
			return err
		}
		dbURL = cluster.URL("breach")
	}
	if err := store.Migrate(ctx, dbURL); err != nil {
		return err
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()

	keySpec := cfg.PayloadKey
	if keySpec == "" {
		if keySpec, err = devKey(filepath.Join(dir, "payload.key")); err != nil {
			return err
		}
	}
	cdc, err := codec.FromSpec(keySpec)
	if err != nil {
		return fmt.Errorf("dev: payload key: %w", err)
	}
	dataSpec := cfg.DataKey
	if dataSpec == "" {
		if dataSpec, err = devKey(filepath.Join(dir, "data.key")); err != nil {
			return err
		}
	}
	vlt, err := vault.FromSpec(dataSpec)
	if err != nil {
		return fmt.Errorf("dev: data key: %w", err)
	}

	if temporalPort != 0 && !portFree(temporalPort) {
		fmt.Fprintf(out, "port %d is taken; the embedded Temporal server takes a free one\n", temporalPort)
		temporalPort = 0
	}
	fmt.Fprintln(out, "starting the embedded Temporal server ...")
	ts, err := devserver.StartTemporal(ctx, devserver.TemporalConfig{
		DatabaseFile: filepath.Join(dir, "temporal.db"), FrontendPort: temporalPort,
		Namespace: cfg.TemporalNamespace, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer ts.Stop()
	tc, err := temporalclient.Dial(ctx, temporalclient.Options{
		Address: ts.HostPort(), Namespace: ts.Namespace(), DataConverter: engine.DataConverter(cdc), Logger: logger,
	})
	if err != nil {
		return err
	}
	defer tc.Close()

	mailer, stopMail, err := devMailer(out, cfg, dir)
	if err != nil {
		return err
	}
	defer stopMail()
	e := &engine.Engine{
		Mailer: mailer, // the letters to the people: BREACH_SMTP_*, or a sink that delivers nothing
		Store:  st, Temporal: tc, Codec: cdc, TaskQueue: cfg.TaskQueue,
		ReminderOffsets: cfg.ReminderOffsets, CORSOrigin: cfg.CodecCORSOrigin, Logger: logger,
		RetentionAfterClose: cfg.RetentionAfterClose, // then the purge (BREACH_RETENTION_AFTER_CLOSE)
		MonitoringPeriod:    cfg.MonitoringPeriod,    // the follow-up after the reset (BREACH_MONITORING_PERIOD)
		Vault:               vlt,                     // contact data of affected people (BREACH_DATA_KEY)
		// Plain http on the developer's machine: cookies without Secure unless asked.
		InsecureCookies: !cfg.Set["BREACH_COOKIE_SECURE"] || !cfg.CookieSecure,
		OIDC:            oidcOptions(cfg), // sign-in through a provider (BREACH_OIDC_*), off when unset
		InboundSecrets:  cfg.InboundSecrets,
	}
	w := e.NewWorker(worker.Options{})
	if err := w.Start(); err != nil {
		return fmt.Errorf("dev: start worker: %w", err)
	}
	defer w.Stop()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("dev: listen on %s (set BREACH_HTTP_ADDR to another address): %w", cfg.HTTPAddr, err)
	}
	baseURL := "http://" + ln.Addr().String()
	accounts, err := ensureDevAccounts(ctx, st, dir)
	if err != nil {
		ln.Close()
		return err
	}
	printDevBanner(out, baseURL, ts.HostPort(), ts.Namespace(), accounts)

	serveErr := make(chan error, 1)
	go func() { serveErr <- e.ServeListener(ctx, ln) }()

	if demo {
		if err := runDemo(ctx, out, e.App(), accounts); err != nil {
			logger.Error("demo failed", "err", err)
			fmt.Fprintln(out, "demo failed:", err)
		}
	}
	fmt.Fprintln(out, "\nbreach dev is running; Ctrl-C stops it (state is kept under "+dir+").")
	err = <-serveErr
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// devKey reads a dev key (payload or data), creating it on first use:
// workflows kept in the dev Temporal database, and people sealed in the dev
// Postgres, stay readable across restarts.
func devKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	spec := codec.NewKeySpec()
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: write %s: %w", filepath.Base(path), err)
	}
	return spec, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func printDevBanner(out io.Writer, baseURL, temporalAddr, ns string, accounts []devAccount) {
	fmt.Fprintf(out, "\nWeb pages: %s/   (sign in with an account below)\n", baseURL)
	fmt.Fprintf(out, "HTTP API:  %s/api/v1   (codec endpoint for the Temporal UI/CLI: %s/codec)\n", baseURL, baseURL)
	fmt.Fprintf(out, "Temporal:  %s namespace %s\n\n", temporalAddr, ns)
	fmt.Fprintln(out, "Accounts (one per role; tokens are new at each start, passwords are kept in .breach/accounts):")
	for _, a := range accounts {
		fmt.Fprintf(out, "  %-9s %-10s password %s\n            export BREACH_URL=%s BREACH_TOKEN=%s\n", a.Role, a.Username, a.Password, baseURL, a.Token)
	}
	fmt.Fprintln(out, "\nThen, as the DPO: breach incident list; breach incident show ID; breach register export --format csv")
}
