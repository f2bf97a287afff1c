// Package temporalclient dials the Temporal frontend the way every breach
// process does: with the payload codec's data converter, the process's slog
// logger, and mutual TLS or an API key when configured.
package temporalclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/breach-engine/breach/internal/config"
)

// Options say how to reach Temporal.
type Options struct {
	Address   string // host:port of the frontend
	Namespace string
	// PEM material. Cert and Key go together (mutual TLS); CA replaces the
	// system roots. Any of them, ServerName or APIKey turns TLS on.
	TLSCert, TLSKey, TLSCA []byte
	TLSServerName          string
	APIKey                 string
	// DataConverter is required: it is the encrypting codec's converter
	// (codec.NewDataConverter), so that nothing reaches Temporal in clear.
	DataConverter converter.DataConverter
	Logger        *slog.Logger
	// Identity names this process in Temporal (worker lists, history); the
	// SDK's default (pid@host) when empty.
	Identity string
}

// FromConfig fills Options from the loaded configuration.
func FromConfig(c config.Config, dc converter.DataConverter, logger *slog.Logger) Options {
	return Options{
		Address:       c.TemporalAddress,
		Namespace:     c.TemporalNamespace,
		TLSCert:       []byte(c.TemporalTLSCert),
		TLSKey:        []byte(c.TemporalTLSKey),
		TLSCA:         []byte(c.TemporalTLSCA),
		TLSServerName: c.TemporalTLSServerName,
		APIKey:        c.TemporalAPIKey,
		DataConverter: dc,
		Logger:        logger,
	}
}

// Dial connects to Temporal and checks that the frontend answers.
func Dial(ctx context.Context, o Options) (client.Client, error) {
	co, err := ClientOptions(o)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("temporalclient: dial %s namespace %q: %w", o.Address, co.Namespace, err)
	}
	return c, nil
}

// ClientOptions builds the SDK's options without dialling (for worker
// processes that need a lazy client, or tests).
func ClientOptions(o Options) (client.Options, error) {
	if o.DataConverter == nil {
		return client.Options{}, errors.New("temporalclient: no DataConverter: payloads would reach Temporal unencrypted")
	}
	if o.Address == "" {
		return client.Options{}, errors.New("temporalclient: no address")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	co := client.Options{
		HostPort:      o.Address,
		Namespace:     o.Namespace,
		DataConverter: o.DataConverter,
		Logger:        tlog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
		Identity:      o.Identity,
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return client.Options{}, err
	}
	co.ConnectionOptions.TLS = tlsCfg
	if o.APIKey != "" {
		co.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
	}
	return co, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	if len(o.TLSCert) == 0 && len(o.TLSKey) == 0 && len(o.TLSCA) == 0 && o.TLSServerName == "" && o.APIKey == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLSServerName}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(o.Address); err == nil {
			cfg.ServerName = host
		}
	}
	switch {
	case len(o.TLSCert) > 0 && len(o.TLSKey) > 0:
		cert, err := tls.X509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			// The error may describe the key; it does not quote it.
			return nil, fmt.Errorf("temporalclient: client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case len(o.TLSCert) > 0 || len(o.TLSKey) > 0:
		return nil, errors.New("temporalclient: a TLS client certificate needs its key, and the key its certificate")
	}
	if len(o.TLSCA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.TLSCA) {
			return nil, errors.New("temporalclient: no certificate found in the TLS CA")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
