// Package auth holds the engine's credentials and who is asking: password
// hashes (argon2id), API tokens (random, stored as SHA-256), the authenticated
// user carried in a request's context, and the role checks every handler makes.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/breach-engine/breach/internal/breach"
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams follow the OWASP Password Storage Cheat Sheet's first argon2id
// configuration: 19 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltLen = 16
	hashLen = 32

	// MinPasswordLen and MaxPasswordLen bound a new password (in characters).
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Limits on parameters read back from a stored hash, so that a corrupted or
// planted row cannot make a login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 21 // 2 GiB
	maxTime    = 16
	maxThreads = 64
)

// ErrMalformedHash reports a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// CheckPassword applies the password policy to a new password.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return breach.Invalid("password", "must have at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return breach.Invalid("password", "must have at most %d characters", MaxPasswordLen)
	}
	return nil
}

// HashPassword hashes a password with argon2id and DefaultParams, in the PHC
// string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashPassword(password string) string {
	return HashPasswordWith(password, DefaultParams)
}

// HashPasswordWith hashes with the given parameters.
func HashPasswordWith(password string, p Params) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifyPassword reports whether password matches the stored PHC string, with
// the parameters the string records, comparing in constant time. The error is
// only for a malformed hash.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether a stored hash was made with other parameters
// than DefaultParams: rehash the password at the next successful login.
func NeedsRehash(encoded string) bool {
	p, salt, key, err := parsePHC(encoded)
	return err != nil || p != DefaultParams || len(salt) != saltLen || len(key) != hashLen
}

// dummyHash is verified against when a login names no known user, so that
// unknown and known usernames take the same time.
var dummyHash = sync.OnceValue(func() string { return HashPassword("breach-dummy-password") })

// DummyVerify spends the time of a password verification; call it when the
// username is unknown so that timing does not reveal which usernames exist.
func DummyVerify(password string) { _, _ = VerifyPassword(dummyHash(), password) }

func parsePHC(s string) (p Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: unsupported version", ErrMalformedHash)
	}
	var m, t, th uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, th) != parts[3] {
		return p, nil, nil, fmt.Errorf("%w: parameters", ErrMalformedHash)
	}
	if th < 1 || th > maxThreads || t < 1 || t > maxTime || m < 8*th || m > maxMemory {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrMalformedHash)
	}
	return p, salt, key, nil
}
