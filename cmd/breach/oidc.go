package main

import (
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/config"
	"github.com/breach-engine/breach/internal/web"
)

// oidcOptions is the OpenID Connect sign-in of the web pages
// (BREACH_OIDC_*); nil when BREACH_OIDC_ISSUER is unset.
func oidcOptions(cfg config.Config) *web.OIDCOptions {
	if !cfg.OIDC() {
		return nil
	}
	o := &web.OIDCOptions{
		Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
		RedirectURL: cfg.OIDCRedirectURL, RoleClaim: cfg.OIDCRoleClaim, Scopes: cfg.OIDCScopes,
	}
	for _, m := range cfg.OIDCRoleMap {
		o.RoleMap = append(o.RoleMap, web.OIDCRole{Value: m.Value, Role: breach.Role(m.Role)})
	}
	return o
}
