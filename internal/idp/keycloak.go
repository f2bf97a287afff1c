package idp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The keycloak connector uses the Keycloak Admin REST API, as a confidential
// client with service accounts enabled whose service account has the
// realm-management roles view-users and manage-users:
//
//   - token: POST {base}/realms/{token_realm}/protocol/openid-connect/token
//     (grant_type=client_credentials), cached until shortly before it
//     expires, fetched again once when the API answers 401;
//   - look-up: GET {base}/admin/realms/{realm}/users?username=..&exact=true
//     (or email=..), then GET .../users/{id} (lookup "id" skips the search);
//     no match is Failed "not found" for that account, several "several
//     accounts match";
//   - ForceReset: PUT .../users/{id}/execute-actions-email with
//     ["UPDATE_PASSWORD"] (unless send_email is false, or the user has no
//     e-mail address or is disabled), then PUT .../users/{id} with
//     UPDATE_PASSWORD added to requiredActions, so that the next login
//     demands a new password even if the e-mail is ignored;
//   - RevokeSessions: POST .../users/{id}/logout;
//   - Status: GET .../users/{id}: UPDATE_PASSWORD still among requiredActions
//     means Pending (Keycloak removes it when the password is changed),
//     otherwise Complete. Only meaningful for accounts whose reset was forced.
//
// Keycloak has no idempotency key. ForceReset reads the user first: when
// UPDATE_PASSWORD is already required it does nothing more (Done, "reset
// already required"), so a retried batch sends no second e-mail, except for
// an account whose attempt stopped between the e-mail and the update.
//
// 429 and 5xx are retried after Retry-After or a backoff (Options); 401 after
// a fresh token is a *ConfigError (wrong client), as are 403 (missing role),
// an unknown realm and a token endpoint refusing the client's credentials.
type keycloakConnector struct {
	cfg    KeycloakConfig
	base   string
	secret []byte
	http   *caller
	opts   Options

	mu      sync.Mutex
	token   string
	expires time.Time
}

const updatePassword = "UPDATE_PASSWORD"

func openKeycloak(ctx context.Context, cfg KeycloakConfig, opts Options) (*keycloakConnector, error) {
	secret, err := opts.secret(ctx, KindKeycloak, "keycloak.client_secret", cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	if cfg.Lookup == "" {
		cfg.Lookup = "username"
	}
	if cfg.TokenRealm == "" {
		cfg.TokenRealm = cfg.Realm
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &keycloakConnector{
		cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), secret: secret, opts: opts,
		http: &caller{kind: KindKeycloak, client: opts.httpClient(timeout), opts: opts},
	}, nil
}

func (c *keycloakConnector) Close() error { return nil }

func (c *keycloakConnector) configErr(field, msg string, err error) *ConfigError {
	return &ConfigError{Kind: KindKeycloak, Field: field, Message: msg, Err: err}
}

// accessToken returns the cached token or fetches one.
func (c *keycloakConnector) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.opts.Now().Before(c.expires) {
		return c.token, nil
	}
	tok, expiresIn, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	// Renew a little before Keycloak's expiry: a fifth of the lifetime, at
	// most 30 seconds.
	margin := min(expiresIn/5, 30*time.Second)
	c.token, c.expires = tok, c.opts.Now().Add(expiresIn-margin)
	return tok, nil
}

// invalidate forgets tok if it is still the cached token (another request
// may have renewed it already).
func (c *keycloakConnector) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

func (c *keycloakConnector) fetchToken(ctx context.Context) (string, time.Duration, error) {
	endpoint := c.base + "/realms/" + url.PathEscape(c.cfg.TokenRealm) + "/protocol/openid-connect/token"
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {string(c.secret)},
	}.Encode()
	res, err := c.http.do(ctx, "token", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return "", 0, err
	}
	switch res.Status {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusUnauthorized:
		return "", 0, c.configErr("keycloak.client_secret", "the token endpoint refuses the client credentials", statusError(res))
	case http.StatusNotFound:
		return "", 0, c.configErr("keycloak.token_realm", "no such realm or token endpoint (check base_url, and /auth for Keycloak before 17)", statusError(res))
	default:
		return "", 0, c.configErr("keycloak.base_url", "unexpected answer from the token endpoint", statusError(res))
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(res.Body, &t); err != nil || t.AccessToken == "" {
		return "", 0, c.configErr("keycloak.base_url", "the token endpoint's answer has no access_token", nil)
	}
	if t.ExpiresIn <= 0 {
		t.ExpiresIn = 60
	}
	return t.AccessToken, time.Duration(t.ExpiresIn) * time.Second, nil
}

// admin calls the Admin API under /admin/realms/{realm}/, with a fresh token
// once after a 401. It returns every other answer for the caller to read,
// except 401 again and 403, which are configuration errors.
func (c *keycloakConnector) admin(ctx context.Context, op, method, path string, query url.Values, body any) (*response, error) {
	endpoint := c.base + "/admin/realms/" + url.PathEscape(c.cfg.Realm) + path
	if len(query) > 0 {
		endpoint += "?" + query.Encode()
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("idp keycloak: %s: encode: %w", op, err)
		}
	}
	for try := 0; ; try++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		res, err := c.http.do(ctx, op, func(ctx context.Context) (*http.Request, error) {
			var rd io.Reader
			if payload != nil {
				rd = bytes.NewReader(payload)
			}
			req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", "application/json")
			if payload != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, nil
		})
		if err != nil {
			return nil, err
		}
		switch res.Status {
		case http.StatusUnauthorized:
			if try == 0 {
				c.invalidate(tok)
				continue
			}
			return nil, c.configErr("keycloak.client_id", "the Admin API refuses a fresh token", statusError(res))
		case http.StatusForbidden:
			return nil, c.configErr("keycloak.client_id", "the client's service account lacks the realm-management roles view-users and manage-users", statusError(res))
		}
		return res, nil
	}
}

// userRef is a user found for an account, or why none was.
type userRef struct {
	id     string
	reason string // "" when found
}

// find looks the account up as configured.
func (c *keycloakConnector) find(ctx context.Context, accountID string) (userRef, error) {
	if c.cfg.Lookup == "id" {
		return userRef{id: accountID}, nil
	}
	q := url.Values{c.cfg.Lookup: {accountID}, "exact": {"true"}, "briefRepresentation": {"true"}, "max": {"20"}}
	res, err := c.admin(ctx, "search user", http.MethodGet, "/users", q, nil)
	if err != nil {
		return userRef{}, err
	}
	switch res.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		return userRef{}, c.configErr("keycloak.realm", "no such realm", statusError(res))
	default:
		return userRef{}, c.configErr("", "unexpected answer to a user search", statusError(res))
	}
	var users []struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Email    string `json:"email"`
	}
	if err := json.Unmarshal(res.Body, &users); err != nil {
		return userRef{}, c.configErr("keycloak.base_url", "the user search's answer is not a list of users", nil)
	}
	// exact=true is ignored by old versions: match here too (Keycloak keeps
	// usernames and e-mail addresses in lower case).
	var ids []string
	for _, u := range users {
		v := u.Username
		if c.cfg.Lookup == "email" {
			v = u.Email
		}
		if strings.EqualFold(v, accountID) && u.ID != "" {
			ids = append(ids, u.ID)
		}
	}
	switch len(ids) {
	case 0:
		return userRef{reason: ReasonNotFound}, nil
	case 1:
		return userRef{id: ids[0]}, nil
	}
	return userRef{reason: ReasonAmbiguous}, nil
}

// kcUser is a user representation as read, kept whole so that an update
// sends back every field unchanged but requiredActions.
type kcUser struct {
	raw             map[string]json.RawMessage
	Email           string
	Enabled         bool
	RequiredActions []string
}

// user reads one user; nil when there is none.
func (c *keycloakConnector) user(ctx context.Context, id string) (*kcUser, error) {
	res, err := c.admin(ctx, "get user", http.MethodGet, "/users/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	switch res.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, c.configErr("", "unexpected answer to reading a user", statusError(res))
	}
	u := &kcUser{}
	var fields struct {
		Email           string   `json:"email"`
		Enabled         *bool    `json:"enabled"`
		RequiredActions []string `json:"requiredActions"`
	}
	if json.Unmarshal(res.Body, &u.raw) != nil || json.Unmarshal(res.Body, &fields) != nil {
		return nil, c.configErr("keycloak.base_url", "a user's representation is not JSON", nil)
	}
	u.Email, u.RequiredActions = fields.Email, fields.RequiredActions
	u.Enabled = fields.Enabled == nil || *fields.Enabled
	return u, nil
}

// errorMessage is Keycloak's {"errorMessage": ...} or {"error": ...}.
func errorMessage(body []byte) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	switch {
	case e.ErrorMessage != "":
		return clip(e.ErrorMessage)
	case e.Description != "":
		return clip(e.Description)
	}
	return clip(e.Error)
}

func (c *keycloakConnector) ForceReset(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.each(ctx, accounts, func(ctx context.Context, i int, o *Outcome) error { return c.forceReset(ctx, accounts[i], o) })
}

func (c *keycloakConnector) RevokeSessions(ctx context.Context, accounts []Account) ([]Outcome, error) {
	return c.each(ctx, accounts, func(ctx context.Context, i int, o *Outcome) error { return c.revokeSessions(ctx, accounts[i], o) })
}

func (c *keycloakConnector) forceReset(ctx context.Context, a Account, o *Outcome) error {
	ref, err := c.find(ctx, a.ID)
	if err != nil {
		return err
	}
	if ref.reason != "" {
		o.Result, o.Reason = Failed, ref.reason
		return nil
	}
	u, err := c.user(ctx, ref.id)
	if err != nil {
		return err
	}
	if u == nil {
		o.Result, o.Reason = Failed, ReasonNotFound
		return nil
	}
	if slices.Contains(u.RequiredActions, updatePassword) {
		o.Result, o.Reason = Done, "reset already required"
		return nil
	}
	path := "/users/" + url.PathEscape(ref.id)
	var note string
	switch {
	case c.cfg.SendEmail != nil && !*c.cfg.SendEmail:
	case u.Email == "":
		note = "no e-mail address: reset required at next login"
	case !u.Enabled:
		note = "account disabled: no e-mail sent, reset required at next login"
	default:
		q := url.Values{}
		if c.cfg.EmailLifespan > 0 {
			q.Set("lifespan", strconv.FormatInt(int64(time.Duration(c.cfg.EmailLifespan)/time.Second), 10))
		}
		if c.cfg.EmailClientID != "" {
			q.Set("client_id", c.cfg.EmailClientID)
		}
		if c.cfg.RedirectURI != "" {
			q.Set("redirect_uri", c.cfg.RedirectURI)
		}
		res, err := c.admin(ctx, "execute-actions-email", http.MethodPut, path+"/execute-actions-email", q, []string{updatePassword})
		if err != nil {
			return err
		}
		switch res.Status {
		case http.StatusOK, http.StatusNoContent:
		case http.StatusNotFound:
			o.Result, o.Reason = Failed, ReasonNotFound
			return nil
		case http.StatusBadRequest:
			msg := errorMessage(res.Body)
			lower := strings.ToLower(msg)
			if strings.Contains(lower, "client") || strings.Contains(lower, "redirect") {
				return c.configErr("keycloak.email_client_id", "Keycloak refuses the e-mail's client or redirect URI", statusError(res))
			}
			// "User email missing", "User is disabled": the required
			// action still applies at the next login.
			note = "no e-mail sent (" + msg + "): reset required at next login"
		default:
			return c.configErr("", "unexpected answer to execute-actions-email", statusError(res))
		}
	}
	raw := u.raw
	actions, _ := json.Marshal(append(slices.Clone(u.RequiredActions), updatePassword))
	raw["requiredActions"] = actions
	res, err := c.admin(ctx, "update user", http.MethodPut, path, nil, raw)
	if err != nil {
		return err
	}
	switch res.Status {
	case http.StatusOK, http.StatusNoContent:
		o.Result, o.Reason = Done, note
	case http.StatusNotFound:
		o.Result, o.Reason = Failed, ReasonNotFound
	case http.StatusBadRequest, http.StatusConflict:
		// This user's data is refused (user profile validation, a
		// duplicate): a matter for this account, not the batch.
		o.Result, o.Reason = Failed, "Keycloak refuses the update: "+errorMessage(res.Body)
	default:
		return c.configErr("", "unexpected answer to a user update", statusError(res))
	}
	return nil
}

func (c *keycloakConnector) revokeSessions(ctx context.Context, a Account, o *Outcome) error {
	ref, err := c.find(ctx, a.ID)
	if err != nil {
		return err
	}
	if ref.reason != "" {
		o.Result, o.Reason = Failed, ref.reason
		return nil
	}
	res, err := c.admin(ctx, "logout", http.MethodPost, "/users/"+url.PathEscape(ref.id)+"/logout", nil, nil)
	if err != nil {
		return err
	}
	switch res.Status {
	case http.StatusOK, http.StatusNoContent:
		o.Result, o.Reason = Done, ""
	case http.StatusNotFound:
		o.Result, o.Reason = Failed, ReasonNotFound
	default:
		return c.configErr("", "unexpected answer to a logout", statusError(res))
	}
	return nil
}

func (c *keycloakConnector) Status(ctx context.Context, accounts []Account) ([]Status, error) {
	out := statuses(accounts)
	_, err := c.each(ctx, accounts, func(ctx context.Context, i int, _ *Outcome) error {
		a := accounts[i]
		st := Status{AccountID: a.ID, Key: a.Key, State: Unknown}
		ref, err := c.find(ctx, a.ID)
		if err != nil {
			return err
		}
		if ref.reason != "" {
			st.Reason = ref.reason
		} else {
			u, err := c.user(ctx, ref.id)
			if err != nil {
				return err
			}
			switch {
			case u == nil:
				st.Reason = ReasonNotFound
			case slices.Contains(u.RequiredActions, updatePassword):
				st.State = Pending
			default:
				st.State = Complete
			}
		}
		out[i] = st // each index is written by one goroutine
		return nil
	})
	return out, err
}

// Check fetches a token, looks in it for the manage-users role (when the
// token lists its roles: lightweight tokens do not), and searches the realm
// for one user: the credentials, the realm and the permissions.
func (c *keycloakConnector) Check(ctx context.Context) error {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	if roles, listed := c.tokenRoles(tok); listed && !slices.Contains(roles, "manage-users") && !slices.Contains(roles, "realm-admin") {
		return c.configErr("keycloak.client_id", "the client's service account lacks the realm-management role manage-users", nil)
	}
	res, err := c.admin(ctx, "check", http.MethodGet, "/users", url.Values{"max": {"1"}, "briefRepresentation": {"true"}}, nil)
	if err != nil {
		return err
	}
	switch res.Status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return c.configErr("keycloak.realm", "no such realm", statusError(res))
	}
	return c.configErr("", "unexpected answer to a user search", statusError(res))
}

// tokenRoles reads the roles on the realm's management client from the
// access token's claims (a JWT we just received from Keycloak; nothing is
// decided on it but a clearer early error): "realm-management" when the
// client is in the realm, "<realm>-realm" when it is in master.
func (c *keycloakConnector) tokenRoles(tok string) (roles []string, listed bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims struct {
		ResourceAccess map[string]struct {
			Roles []string `json:"roles"`
		} `json:"resource_access"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.ResourceAccess == nil {
		return nil, false
	}
	for _, client := range []string{"realm-management", c.cfg.Realm + "-realm"} {
		roles = append(roles, claims.ResourceAccess[client].Roles...)
	}
	return roles, true
}

// each runs fn for every account with an ID, Concurrency at a time, until
// the first batch error: the accounts not reached stay Retry.
func (c *keycloakConnector) each(ctx context.Context, accounts []Account, fn func(ctx context.Context, i int, o *Outcome) error) ([]Outcome, error) {
	out := outcomes(accounts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		batchErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range min(c.cfg.Concurrency, len(accounts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				o := out[i] // fn fills a copy: a half-done account stays Retry
				err := fn(ctx, i, &o)
				mu.Lock()
				switch {
				case err == nil:
					out[i] = o
				case batchErr == nil:
					batchErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i, a := range accounts {
		if a.ID == "" {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if batchErr == nil {
		batchErr = ctx.Err() // the caller's context ended
	}
	return out, batchErr
}
