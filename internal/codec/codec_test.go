package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/breach-engine/breach/internal/breach"
)

type person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

var alice = person{Name: "Alice Martin", Email: "alice.martin@example.fr"}

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }

func mustCodec(t *testing.T, spec string) *Codec {
	t.Helper()
	c, err := FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTripThroughDataConverter(t *testing.T) {
	dc := NewDataConverter(mustCodec(t, key(1)))
	p, err := dc.ToPayload(alice)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata[converter.MetadataEncoding]); got != EncodingEncrypted {
		t.Fatalf("encoding %q, want %q", got, EncodingEncrypted)
	}
	if got := string(p.Metadata[MetadataKeyID]); got != DefaultKeyID {
		t.Fatalf("key id %q, want %q", got, DefaultKeyID)
	}
	var back person
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back != alice {
		t.Fatalf("round trip gave %+v", back)
	}
}

func TestPlaintextNeverInEncodedBytes(t *testing.T) {
	dc := NewDataConverter(mustCodec(t, key(2)))
	ps, err := dc.ToPayloads(alice, "json/plain", 4800000)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Alice", "alice.martin", "example.fr", "json/plain", "4800000"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("encoded payloads contain %q", s)
		}
	}
	// Two encodings of the same value differ: the nonce is random.
	p1, _ := dc.ToPayload(alice)
	p2, _ := dc.ToPayload(alice)
	if bytes.Equal(p1.Data, p2.Data) {
		t.Error("same ciphertext twice: nonce not random")
	}
}

func TestTamperedCiphertextFails(t *testing.T) {
	c := mustCodec(t, key(3))
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"secret"`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pos := range []int{0, 12, len(enc[0].Data) - 1} { // nonce, body, tag
		bad := proto.Clone(enc[0]).(*commonpb.Payload)
		bad.Data[pos] ^= 0x01
		if _, err := c.Decode([]*commonpb.Payload{bad}); err == nil {
			t.Errorf("flipping byte %d decoded without error", pos)
		}
	}
	short := proto.Clone(enc[0]).(*commonpb.Payload)
	short.Data = short.Data[:10]
	if _, err := c.Decode([]*commonpb.Payload{short}); err == nil {
		t.Error("truncated ciphertext decoded")
	}
	// Relabelling the key ID breaks the authenticated data even with the same key.
	two := mustCodec(t, "a:"+key(3)+",b:"+key(3))
	enc, _ = two.Encode([]*commonpb.Payload{{Data: []byte(`"secret"`)}})
	enc[0].Metadata[MetadataKeyID] = []byte("b")
	if _, err := two.Decode(enc); err == nil {
		t.Error("payload with a relabelled key id decoded")
	}
}

func TestUnknownKeyID(t *testing.T) {
	old := mustCodec(t, "k1:"+key(4))
	enc, err := old.Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	other := mustCodec(t, "k2:"+key(5))
	_, err = other.Decode(enc)
	if err == nil || !strings.Contains(err.Error(), `unknown key id "k1"`) {
		t.Fatalf("got %v, want unknown key id error", err)
	}
}

func TestRotation(t *testing.T) {
	before := mustCodec(t, "2025:"+key(6))
	enc, _ := before.Encode([]*commonpb.Payload{{Data: []byte("old")}})
	after := mustCodec(t, "2026:"+key(7)+", 2025:"+key(6))
	if got := after.Keys().Current(); got != "2026" {
		t.Fatalf("current key %q", got)
	}
	dec, err := after.Decode(enc)
	if err != nil || string(dec[0].Data) != "old" {
		t.Fatalf("old payload after rotation: %v", err)
	}
	enc, _ = after.Encode([]*commonpb.Payload{{Data: []byte("new")}})
	if got := string(enc[0].Metadata[MetadataKeyID]); got != "2026" {
		t.Fatalf("new payload encrypted with %q", got)
	}
}

func TestDecodePassesPlainPayloadsThrough(t *testing.T) {
	c := mustCodec(t, key(8))
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`1`)}
	out, err := c.Decode([]*commonpb.Payload{plain})
	if err != nil || out[0] != plain {
		t.Fatalf("plain payload: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	raw := bytes.Repeat([]byte{9}, KeySize)
	ok := []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		"  " + base64.StdEncoding.EncodeToString(raw) + "\n",
		"a:" + key(1) + ",b.2_x-y:" + key(2),
	}
	for _, s := range ok {
		if _, err := ParseKeys(s); err != nil {
			t.Errorf("ParseKeys(%q): %v", s, err)
		}
	}
	secret := key(10)
	bad := map[string]string{
		"":            "empty",
		"not base64!": "base64",
		base64.StdEncoding.EncodeToString([]byte("short")): "bytes",
		"a:" + secret + ",a:" + key(11):                    "already used",
		"a:" + secret + "," + key(11):                      "want keyid:base64",
		"b@d:" + secret:                                    "key id",
		":" + secret:                                       "empty key id",
	}
	for s, want := range bad {
		_, err := ParseKeys(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%q) = %v, want error with %q", s, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), key(11)) {
			t.Errorf("error %q reveals key material", err)
		}
	}
	// A key pasted where the ID goes must not be echoed.
	leak := base64.RawURLEncoding.EncodeToString(raw) + "+/:" + secret
	if _, err := ParseKeys(leak); err == nil || strings.Contains(err.Error(), base64.RawURLEncoding.EncodeToString(raw)) {
		t.Errorf("ParseKeys with a key as ID: %v", err)
	}
	if _, err := ParseKeys(NewKeySpec()); err != nil {
		t.Errorf("NewKeySpec does not parse: %v", err)
	}
	r, err := NewKeyRing("z", map[string][]byte{"z": raw, "b": raw, "a": raw})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.IDs(), ","); got != "z,a,b" {
		t.Errorf("IDs() = %s", got)
	}
}

// httpAuth accepts "Bearer good" and refuses "Bearer readonly" as forbidden.
func httpAuth(r *http.Request) error {
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		return nil
	case "Bearer readonly":
		return breach.Errorf(breach.ErrForbidden, "no codec access")
	}
	return errors.New("no credentials")
}

func TestHTTPHandlerDecodesForAuthenticatedUsers(t *testing.T) {
	c := mustCodec(t, key(12))
	mux := http.NewServeMux()
	mux.Handle("/codec/", Handler(c, HandlerOptions{Authenticate: httpAuth, CORSOrigin: "http://localhost:8233"}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	orig, err := converter.GetDefaultDataConverter().ToPayload(alice)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encode([]*commonpb.Payload{orig})
	if err != nil {
		t.Fatal(err)
	}

	// The SDK's remote codec is what the Temporal CLI uses with --codec-endpoint.
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL + "/codec",
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer good")
			return nil
		},
	})
	dec, err := remote.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(dec[0], orig) {
		t.Fatalf("decoded %v, want %v", dec[0], orig)
	}
	// And what it encodes, the codec decodes.
	reenc, err := remote.Encode([]*commonpb.Payload{orig})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decode(reenc); err != nil || !proto.Equal(dec[0], orig) {
		t.Fatalf("decode of remote encoding: %v", err)
	}

	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	post := func(auth, origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", resp.StatusCode)
	}
	if resp := post("Bearer wrong", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad credentials: status %d, want 401", resp.StatusCode)
	}
	if resp := post("Bearer readonly", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forbidden user: status %d, want 403", resp.StatusCode)
	}
	resp := post("Bearer good", "http://localhost:8233")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
		t.Errorf("UI origin: status %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp = post("Bearer good", "http://evil.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin allowed: %q", got)
	}

	// Preflight from the UI: answered without credentials.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/codec/decode", nil)
	req.Header.Set("Origin", "http://localhost:8233")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Errorf("preflight: status %d, headers %v", pre.StatusCode, pre.Header)
	}
}

func TestHTTPHandlerWithoutAuthenticateRefuses(t *testing.T) {
	srv := httptest.NewServer(Handler(mustCodec(t, key(13)), HandlerOptions{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/decode", "application/json", strings.NewReader(`{"payloads":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
}

func TestDeriveIsStablePerKeyAndLabel(t *testing.T) {
	r, err := ParseKeys("new:" + key(2) + ",old:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	a1, err := r.Derive("new", "label-a", 32)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := r.Derive("new", "label-a", 32)
	b, _ := r.Derive("new", "label-b", 32)
	o, _ := r.Derive("old", "label-a", 32)
	if !bytes.Equal(a1, a2) || len(a1) != 32 {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(a1, b) || bytes.Equal(a1, o) {
		t.Fatal("labels or keys share derived material")
	}
	if bytes.Equal(a1, bytes.Repeat([]byte{2}, KeySize)) {
		t.Fatal("derive returned the raw key")
	}
	if _, err := r.Derive("missing", "label-a", 32); err == nil {
		t.Fatal("unknown key derived")
	}
	if !r.Has("old") || r.Has("missing") {
		t.Fatal("Has")
	}
	r2, _ := NewKeyRing("k", map[string][]byte{"k": bytes.Repeat([]byte{2}, KeySize)})
	n2, _ := r2.Derive("k", "label-a", 32)
	if !bytes.Equal(n2, a1) {
		t.Fatal("NewKeyRing and ParseKeys derive differently from the same key")
	}
}
