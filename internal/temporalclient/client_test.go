package temporalclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/breach-engine/breach/internal/config"
)

// pki is a throw-away CA with a server and a client certificate, in PEM.
type pki struct {
	caPEM, serverCert, serverKey, clientCert, clientKey []byte
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "breach test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, dns []string) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	var p pki
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.serverCert, p.serverKey = issue("temporal.test", x509.ExtKeyUsageServerAuth, []string{"temporal.test"})
	p.clientCert, p.clientKey = issue("breach-worker", x509.ExtKeyUsageClientAuth, nil)
	return p
}

// seen is what the frontend stand-in observed of a call.
type seen struct {
	mu     sync.Mutex
	method string
	auth   []string
	peerCN string
}

// startFrontend runs a gRPC server over TLS that requires a client certificate
// signed by the CA and answers every method "unimplemented", which the SDK
// accepts for GetSystemInfo: enough to prove the handshake and the credentials.
// (The embedded Temporal server used elsewhere in tests has no TLS.)
func startFrontend(t *testing.T, p pki) (addr string, s *seen) {
	t.Helper()
	cert, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	s = &seen{}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		})),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			ctx := stream.Context()
			s.mu.Lock()
			defer s.mu.Unlock()
			s.method, _ = grpc.MethodFromServerStream(stream)
			md, _ := metadata.FromIncomingContext(ctx)
			s.auth = md.Get("authorization")
			if pr, ok := peer.FromContext(ctx); ok {
				if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
					s.peerCN = ti.State.PeerCertificates[0].Subject.CommonName
				}
			}
			return status.Errorf(codes.Unimplemented, "unknown method %s", s.method)
		}),
	)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String(), s
}

func dc() converter.DataConverter { return converter.GetDefaultDataConverter() }

func TestDialMutualTLSWithAPIKey(t *testing.T) {
	p := newPKI(t)
	addr, s := startFrontend(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, Options{
		Address: addr, Namespace: "breach", DataConverter: dc(),
		TLSCert: p.clientCert, TLSKey: p.clientKey, TLSCA: p.caPEM, TLSServerName: "temporal.test",
		APIKey: "key-123",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasSuffix(s.method, "/GetSystemInfo") || s.peerCN != "breach-worker" ||
		len(s.auth) != 1 || s.auth[0] != "Bearer key-123" {
		t.Fatalf("frontend saw method %q, client CN %q, authorization %v", s.method, s.peerCN, s.auth)
	}
}

func TestDialRefusedWithoutClientCertificate(t *testing.T) {
	p := newPKI(t)
	addr, _ := startFrontend(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Options{Address: addr, DataConverter: dc(), TLSCA: p.caPEM, TLSServerName: "temporal.test"})
	if err == nil {
		t.Fatal("dial without client certificate succeeded")
	}
	// And a server certificate from another CA is not trusted.
	other := newPKI(t)
	_, err = Dial(ctx, Options{
		Address: addr, DataConverter: dc(), TLSServerName: "temporal.test",
		TLSCert: p.clientCert, TLSKey: p.clientKey, TLSCA: other.caPEM,
	})
	if err == nil {
		t.Fatal("dial trusting another CA succeeded")
	}
}

func TestClientOptions(t *testing.T) {
	if _, err := ClientOptions(Options{Address: "x:1"}); err == nil || !strings.Contains(err.Error(), "DataConverter") {
		t.Errorf("no data converter: %v", err)
	}
	co, err := ClientOptions(Options{Address: "127.0.0.1:7233", Namespace: "default", DataConverter: dc()})
	if err != nil || co.ConnectionOptions.TLS != nil || co.Credentials != nil || co.Logger == nil {
		t.Errorf("plain options: %+v %v", co, err)
	}
	p := newPKI(t)
	if _, err := ClientOptions(Options{Address: "a:1", DataConverter: dc(), TLSCert: p.clientCert}); err == nil {
		t.Error("certificate without key accepted")
	}
	if _, err := ClientOptions(Options{Address: "a:1", DataConverter: dc(), TLSCA: []byte("nope")}); err == nil {
		t.Error("CA without certificates accepted")
	}
	co, err = ClientOptions(Options{Address: "temporal.example.org:7233", DataConverter: dc(), APIKey: "k"})
	if err != nil || co.ConnectionOptions.TLS == nil || co.ConnectionOptions.TLS.ServerName != "temporal.example.org" {
		t.Errorf("API key turns TLS on with the host as server name: %+v %v", co.ConnectionOptions.TLS, err)
	}

	cfg, err := config.LoadFrom(func(name string) (string, bool) {
		switch name {
		case "BREACH_TEMPORAL_ADDRESS":
			return "temporal:7233", true
		case "BREACH_TEMPORAL_TLS_CA":
			return string(p.caPEM), true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	o := FromConfig(cfg, dc(), nil)
	if o.Address != "temporal:7233" || o.Namespace != "default" || string(o.TLSCA) != strings.TrimSpace(string(p.caPEM)) {
		t.Errorf("FromConfig: %+v", o)
	}
}
