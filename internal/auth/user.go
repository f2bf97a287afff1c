package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/breach-engine/breach/internal/breach"
)

// User is the authenticated account a request acts for.
type User struct {
	ID       string      `json:"id"`
	Username string      `json:"username"`
	Role     breach.Role `json:"role"`
}

// Actor is the user as recorded in updates and audit rows: by ID, never by name.
func (u User) Actor() breach.Actor { return breach.Actor{UserID: u.ID, Role: u.Role} }

// Has reports whether the user holds one of the roles.
func (u User) Has(roles ...breach.Role) bool {
	return u.ID != "" && u.Role.Valid() && slices.Contains(roles, u.Role)
}

type userKey struct{}

// WithUser returns a context carrying the authenticated user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the authenticated user the context carries, if any.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok && u.ID != ""
}

// Check returns nil when the user holds one of the roles, else a *breach.Error
// with code ErrForbidden that names the roles allowed (not the user).
func Check(u User, roles ...breach.Role) error {
	if u.Has(roles...) {
		return nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	if u.ID == "" {
		return breach.Errorf(breach.ErrForbidden, "authentication required")
	}
	return breach.Errorf(breach.ErrForbidden, "role %q may not do this; it requires %s", u.Role, strings.Join(names, " or "))
}

// Require returns the context's user when it holds one of the roles; else a
// *breach.Error with code ErrForbidden. Handlers start with it:
//
//	u, err := auth.Require(r.Context(), breach.RoleDPO)
func Require(ctx context.Context, roles ...breach.Role) (User, error) {
	u, _ := UserFrom(ctx)
	if err := Check(u, roles...); err != nil {
		return User{}, err
	}
	return u, nil
}
