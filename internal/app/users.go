package app

import (
	"context"

	"github.com/breach-engine/breach/internal/auth"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// NewAccount is what an admin gives to create an account.
type NewAccount struct {
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Role        breach.Role `json:"role"`
	Password    string      `json:"password"`
}

// CreateAccount creates an account; the password is stored hashed with argon2id.
func (s *Service) CreateAccount(ctx context.Context, actor breach.Actor, a NewAccount) (store.User, error) {
	if err := s.authorize(ctx, actor, "", "create an account", breach.RoleAdmin); err != nil {
		return store.User{}, err
	}
	switch {
	case a.Username == "":
		return store.User{}, breach.Invalid("username", "is required")
	case !a.Role.Valid():
		return store.User{}, breach.Invalid("role", "must be one of dpo, approver, auditor, admin")
	}
	if err := auth.CheckPassword(a.Password); err != nil {
		return store.User{}, err
	}
	hash := auth.HashPassword(a.Password)
	return s.Store.CreateUser(ctx, actor, store.NewUser{
		Username: a.Username, DisplayName: a.DisplayName, Role: a.Role, PasswordHash: hash,
	})
}

// CreateToken issues an API token for an account; only its hash is kept, so
// the plaintext is shown once.
func (s *Service) CreateToken(ctx context.Context, actor breach.Actor, userID, label string) (string, error) {
	if err := s.authorize(ctx, actor, "", "issue an API token", breach.RoleAdmin); err != nil {
		return "", err
	}
	if _, err := s.Store.UserByID(ctx, userID); err != nil {
		return "", err
	}
	token, hash := auth.NewToken()
	if err := s.Store.CreateAPIToken(ctx, actor, userID, label, hash); err != nil {
		return "", err
	}
	return token, nil
}

// Accounts lists the accounts.
func (s *Service) Accounts(ctx context.Context, actor breach.Actor) ([]store.User, error) {
	if err := s.authorize(ctx, actor, "", "list accounts", breach.RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.ListUsers(ctx)
}
