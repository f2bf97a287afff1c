package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// devAccount is one of the accounts `breach dev` makes, one per role.
type devAccount struct {
	Role     breach.Role
	Username string
	Password string
	Token    string
	UserID   string
}

// ensureDevAccounts creates one account per role on first start (passwords
// kept in DIR/accounts, mode 0600) and issues each a fresh API token.
func ensureDevAccounts(ctx context.Context, st *store.Store, dir string) ([]devAccount, error) {
	path := filepath.Join(dir, "accounts")
	passwords, err := readPasswords(path)
	if err != nil {
		return nil, err
	}
	var out []devAccount
	changed := false
	for _, role := range breach.Roles {
		a := devAccount{Role: role, Username: string(role), Password: passwords[string(role)]}
		u, err := st.UserByUsername(ctx, a.Username)
		if breach.ErrorCode(err) == breach.ErrNotFound {
			if a.Password == "" {
				a.Password = randomPassword()
				passwords[a.Username] = a.Password
				changed = true
			}
			u, err = st.CreateUser(ctx, breach.System, store.NewUser{
				Username: a.Username, DisplayName: "Dev " + string(role), Role: role, PasswordHash: auth.HashPassword(a.Password),
			})
		}
		if err != nil {
			return nil, fmt.Errorf("dev: account %s: %w", a.Username, err)
		}
		token, hash := auth.NewToken()
		if err := st.CreateAPIToken(ctx, breach.System, u.ID, "breach dev", hash); err != nil {
			return nil, fmt.Errorf("dev: token for %s: %w", a.Username, err)
		}
		a.Token, a.UserID = token, u.ID
		out = append(out, a)
	}
	if changed {
		if err := writePasswords(path, passwords); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func readPasswords(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dev: read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if user, pw, ok := strings.Cut(sc.Text(), " "); ok {
			out[user] = pw
		}
	}
	return out, sc.Err()
}

func writePasswords(path string, pw map[string]string) error {
	var b strings.Builder
	for _, r := range breach.Roles {
		if p, ok := pw[string(r)]; ok {
			fmt.Fprintf(&b, "%s %s\n", r, p)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("dev: write %s: %w", path, err)
	}
	return nil
}
