// Package devserver runs the real Temporal server inside the breach process, on
// SQLite and 127.0.0.1, the way the Temporal CLI's own dev server does. It is
// used by `breach dev` and by the test environment; production deployments use a
// Temporal cluster instead.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const loopback = "127.0.0.1"

// TemporalConfig says where the embedded server keeps its state and listens.
type TemporalConfig struct {
	// DatabaseFile persists workflows across restarts; empty keeps everything in
	// memory (tests).
	DatabaseFile string
	// FrontendPort is the gRPC port clients dial; 0 picks a free one.
	FrontendPort int
	// Namespace is registered at start.
	Namespace string
	// Logger receives the server's own logs at warn level and above.
	Logger *slog.Logger
}

// Temporal is a running embedded Temporal server.
type Temporal struct {
	server   temporal.Server
	hostPort string
	ns       string
}

// StartTemporal builds, starts and waits for an embedded Temporal server.
func StartTemporal(ctx context.Context, cfg TemporalConfig) (*Temporal, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ports, err := freePorts(9) // frontend, 3 other services' gRPC, 4 membership, metrics
	if err != nil {
		return nil, fmt.Errorf("devserver: pick ports: %w", err)
	}
	if cfg.FrontendPort != 0 {
		ports[0] = cfg.FrontendPort
	}
	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
	}
	if cfg.DatabaseFile == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = "breach-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		sqlCfg.ConnectAttributes["_journal_mode"] = "wal"
		sqlCfg.DatabaseName = cfg.DatabaseFile
		if err := os.MkdirAll(filepath.Dir(cfg.DatabaseFile), 0o750); err != nil {
			return nil, fmt.Errorf("devserver: create temporal data folder: %w", err)
		}
		if _, err := os.Stat(cfg.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
				return nil, fmt.Errorf("devserver: set up temporal schema: %w", err)
			}
		}
	}

	frontend := fmt.Sprintf("%s:%d", loopback, ports[0])
	svc := func(grpcPort, membershipPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membershipPort, BindOnIP: loopback}}
	}
	srvCfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: loopback},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: fmt.Sprintf("%s:%d", loopback, ports[8]), HandlerPath: "/metrics",
			}},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": svc(ports[0], ports[4]),
			"history":  svc(ports[1], ports[5]),
			"matching": svc(ports[2], ports[6]),
			"worker":   svc(ports[3], ports[7]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}

	nsCfg, err := sqliteschema.NewNamespaceConfig("active", cfg.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("devserver: create namespace %q: %w", cfg.Namespace, err)
	}

	logger := &slogAdapter{l: cfg.Logger.With("component", "temporal-server")}
	srv, err := temporal.NewServer(
		temporal.WithConfig(srvCfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return authorization.NewNoopClaimMapper() }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start temporal server: %w", err)
	}
	t := &Temporal{server: srv, hostPort: frontend, ns: cfg.Namespace}
	if err := t.waitReady(ctx); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	logger.ready.Store(true)
	return t, nil
}

// HostPort is the frontend address clients dial.
func (t *Temporal) HostPort() string { return t.hostPort }

// Namespace is the namespace registered at start.
func (t *Temporal) Namespace() string { return t.ns }

// Stop shuts the server down.
func (t *Temporal) Stop() error { return t.server.Stop() }

// waitReady dials the frontend until it answers a health check.
func (t *Temporal) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := client.Dial(client.Options{HostPort: t.hostPort, Namespace: t.ns, Logger: nopLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devserver: temporal server not ready at %s: %w", t.hostPort, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", loopback+":0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// slogAdapter sends the server's logs to slog. The server is chatty and a
// newcomer's terminal is for breach: its warnings go out at debug level, and so
// do the errors it logs while its services are still finding each other at
// start-up; errors after that are kept.
type slogAdapter struct {
	l     *slog.Logger
	ready atomic.Bool
}

func (a *slogAdapter) attrs(tags []tag.Tag) []any {
	out := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		out = append(out, t.Key(), fmt.Sprint(t.Value()))
	}
	return out
}
func (a *slogAdapter) Debug(string, ...tag.Tag) {}
func (a *slogAdapter) Info(string, ...tag.Tag)  {}
func (a *slogAdapter) Warn(msg string, tags ...tag.Tag) {
	a.l.Debug(msg, a.attrs(tags)...)
}
func (a *slogAdapter) Error(msg string, tags ...tag.Tag) {
	if !a.ready.Load() {
		a.l.Debug(msg, a.attrs(tags)...)
		return
	}
	a.l.Error(msg, a.attrs(tags)...)
}
func (a *slogAdapter) DPanic(msg string, tags ...tag.Tag) { a.l.Error(msg, a.attrs(tags)...) }
func (a *slogAdapter) Panic(msg string, tags ...tag.Tag) {
	a.l.Error(msg, a.attrs(tags)...)
	panic(msg)
}
func (a *slogAdapter) Fatal(msg string, tags ...tag.Tag) {
	a.l.Error(msg, a.attrs(tags)...)
	os.Exit(1)
}

var _ tlog.Logger = (*slogAdapter)(nil)

// nopLogger silences the SDK client used for the readiness probe.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
