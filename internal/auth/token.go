package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// TokenPrefix starts every API token, so that a leaked one is recognisable by
// secret scanners and by people.
const TokenPrefix = "brt_"

const tokenBytes = 32

// tokenLen is the length of a token: the prefix and 32 bytes in unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a new API token, to show once to its owner, and its hash,
// to store. Tokens carry 256 random bits, so a fast hash is enough: nobody can
// guess one from its hash faster than by brute force over 2^256.
func NewToken() (plaintext string, hash []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	plaintext = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return plaintext, HashToken(plaintext)
}

// HashToken is the stored form of a token: its SHA-256. Look tokens up by it.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// LooksLikeToken reports whether s has the shape of an API token, so that
// garbage is refused without a database look-up.
func LooksLikeToken(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):])
	return err == nil
}

// BearerToken extracts the token from an Authorization header value
// ("Bearer brt_..."); ok is false when there is none of the right shape.
func BearerToken(header string) (token string, ok bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, LooksLikeToken(tok)
}
