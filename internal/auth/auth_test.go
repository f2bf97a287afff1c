package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/breach-engine/breach/internal/breach"
)

// fastParams keep the tests quick; the format and the checks are the same.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashPasswordFormatAndVerify(t *testing.T) {
	h := HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q not in PHC format with OWASP parameters", h)
	}
	if parts := strings.Split(h, "$"); len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Fatalf("salt/hash lengths in %q", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery staple"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword(h, "correct horse battery stapl"); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	if h == HashPassword("correct horse battery staple") {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if NeedsRehash(h) {
		t.Error("fresh hash needs rehash")
	}
}

func TestVerifyUsesTheStoredParameters(t *testing.T) {
	h := HashPasswordWith("s3cret-password", fastParams)
	if !strings.Contains(h, "$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword(h, "s3cret-password"); !ok || err != nil {
		t.Fatalf("verify with stored params: %v %v", ok, err)
	}
	if !NeedsRehash(h) {
		t.Error("weak parameters do not need rehash")
	}
	// A hash written by another argon2id implementation (salt "somesaltsomesalt",
	// 16-byte hash) parses; the password does not match it.
	const foreign = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAA"
	if ok, err := VerifyPassword(foreign, "x"); ok || err != nil {
		t.Errorf("well-formed foreign hash: %v %v", ok, err)
	}
}

func TestMalformedHashes(t *testing.T) {
	good := HashPasswordWith("pw", fastParams)
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5], // memory bomb
		"$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$",
	}
	for _, h := range bad {
		ok, err := VerifyPassword(h, "pw")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v", h, ok, err)
		}
		if !NeedsRehash(h) {
			t.Errorf("NeedsRehash(%q) = false", h)
		}
	}
	DummyVerify("anything") // must not panic
}

func TestCheckPassword(t *testing.T) {
	if err := CheckPassword("short"); breach.ErrorCode(err) != breach.ErrInvalid {
		t.Errorf("short password: %v", err)
	}
	if err := CheckPassword(strings.Repeat("é", 12)); err != nil {
		t.Errorf("12 characters: %v", err)
	}
	if err := CheckPassword(strings.Repeat("a", MaxPasswordLen+1)); err == nil {
		t.Error("overlong password accepted")
	}
}

func TestTokens(t *testing.T) {
	tok, hash := NewToken()
	if !strings.HasPrefix(tok, "brt_") || len(tok) != 4+43 || !LooksLikeToken(tok) {
		t.Fatalf("token %q", tok)
	}
	if !bytes.Equal(hash, HashToken(tok)) || len(hash) != 32 {
		t.Fatal("hash does not match HashToken")
	}
	if bytes.Contains(hash, []byte(tok)) {
		t.Fatal("hash holds the token")
	}
	tok2, hash2 := NewToken()
	if tok2 == tok || bytes.Equal(hash, hash2) {
		t.Fatal("two tokens are equal")
	}
	for _, s := range []string{"", "brt_", tok[:len(tok)-1], "xyz_" + tok[4:], tok[:10] + "!" + tok[11:]} {
		if LooksLikeToken(s) {
			t.Errorf("LooksLikeToken(%q)", s)
		}
	}
	if got, ok := BearerToken("Bearer " + tok); !ok || got != tok {
		t.Errorf("BearerToken: %q %v", got, ok)
	}
	if got, ok := BearerToken("bearer  " + tok + " "); !ok || got != tok {
		t.Errorf("BearerToken lower case: %q %v", got, ok)
	}
	for _, h := range []string{"", tok, "Basic " + tok, "Bearer nope"} {
		if _, ok := BearerToken(h); ok {
			t.Errorf("BearerToken(%q) ok", h)
		}
	}
}

func TestContextAndRoles(t *testing.T) {
	ctx := context.Background()
	if _, ok := UserFrom(ctx); ok {
		t.Fatal("user in empty context")
	}
	_, err := Require(ctx, breach.RoleDPO)
	var be *breach.Error
	if !errors.As(err, &be) || be.Code != breach.ErrForbidden {
		t.Fatalf("unauthenticated: %v", err)
	}

	dpo := User{ID: "u1", Username: "dpo", Role: breach.RoleDPO}
	ctx = WithUser(ctx, dpo)
	if u, ok := UserFrom(ctx); !ok || u != dpo {
		t.Fatalf("UserFrom = %+v %v", u, ok)
	}
	if u, err := Require(ctx, breach.RoleDPO, breach.RoleAdmin); err != nil || u != dpo {
		t.Fatalf("Require dpo: %+v %v", u, err)
	}
	_, err = Require(ctx, breach.RoleApprover)
	if !errors.As(err, &be) || be.Code != breach.ErrForbidden ||
		be.Error() != `role "dpo" may not do this; it requires approver` {
		t.Fatalf("dpo approving: %v", err)
	}
	if err := Check(User{ID: "u2", Role: "superuser"}, breach.Role("superuser")); err == nil {
		t.Error("unknown role accepted")
	}
	if err := Check(dpo); err == nil {
		t.Error("no roles allowed yet check passed")
	}
	if a := dpo.Actor(); a.UserID != "u1" || a.Role != breach.RoleDPO {
		t.Errorf("Actor = %+v", a)
	}
}
