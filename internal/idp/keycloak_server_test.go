package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// keycloak is a stand-in for a Keycloak server, written from the Admin REST
// API documentation (26.x) and its observed behaviour: the endpoints the
// connector uses, their status codes and error bodies. It is a peer on
// loopback, not a mock of our code.
type keycloak struct {
	t   *testing.T
	srv *httptest.Server

	realm        string
	clientID     string
	clientSecret string
	manageUsers  bool // the service account's realm-management role
	tokenLife    int  // expires_in, seconds
	emailClients map[string]bool

	mu       sync.Mutex
	users    map[string]*kcUser // by id
	tokens   map[string]bool    // valid access tokens
	issued   int
	requests int
	// every429 answers 429 (Retry-After: 1) to every n-th admin request.
	every429 int
	// limitNext answers 429 (Retry-After: 1) to the next n admin requests.
	limitNext int
	limited   int
	// fail5xx answers 503 to the next n admin requests.
	fail5xx int
	emails  map[string][]string // user id -> lifespans of the e-mails sent
	logouts map[string]int
	puts    []map[string]any // user representations received
}

type kcUser struct {
	ID              string          `json:"id"`
	Username        string          `json:"username"`
	Email           string          `json:"email,omitempty"`
	Enabled         bool            `json:"enabled"`
	EmailVerified   bool            `json:"emailVerified"`
	FirstName       string          `json:"firstName,omitempty"`
	Attributes      map[string]any  `json:"attributes,omitempty"`
	RequiredActions []string        `json:"requiredActions"`
	CreatedAt       int64           `json:"createdTimestamp"`
	Access          map[string]bool `json:"access,omitempty"`
	sessions        int             // active sessions
}

func newKeycloak(t *testing.T) *keycloak {
	k := &keycloak{
		t: t, realm: "job-seekers", clientID: "breach-engine", clientSecret: "kc-secret-5e1f",
		manageUsers: true, tokenLife: 300, emailClients: map[string]bool{"portal": true},
		users: map[string]*kcUser{}, tokens: map[string]bool{},
		emails: map[string][]string{}, logouts: map[string]int{},
	}
	k.srv = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *keycloak) addUser(username, email string, enabled bool, actions ...string) *kcUser {
	k.mu.Lock()
	defer k.mu.Unlock()
	u := &kcUser{
		ID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", len(k.users)+1, len(k.users)+1),
		Username: strings.ToLower(username), Email: strings.ToLower(email), Enabled: enabled,
		FirstName: "Jeanne", Attributes: map[string]any{"agency": []string{"Lyon-3"}},
		RequiredActions: append([]string{}, actions...), CreatedAt: 1764000000000,
		Access: map[string]bool{"manage": true}, sessions: 2,
	}
	k.users[u.ID] = u
	return u
}

func (k *keycloak) byName(username string) *kcUser {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, u := range k.users {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// completeReset is what Keycloak does when the person sets a new password.
func (k *keycloak) completeReset(username string) {
	u := k.byName(username)
	k.mu.Lock()
	defer k.mu.Unlock()
	u.RequiredActions = slices.DeleteFunc(u.RequiredActions, func(a string) bool { return a == "UPDATE_PASSWORD" })
}

// expireTokens makes every issued token invalid, as when it outlives its
// lifespan on the server's clock.
func (k *keycloak) expireTokens() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.tokens)
}

func kcError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (k *keycloak) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	path := r.URL.Path

	if rest, ok := strings.CutPrefix(path, "/realms/"); ok {
		realm, tail, _ := strings.Cut(rest, "/")
		if tail != "protocol/openid-connect/token" || r.Method != http.MethodPost {
			kcError(w, http.StatusNotFound, `{"error":"Unable to find matching target resource method"}`)
			return
		}
		if realm != k.realm {
			kcError(w, http.StatusNotFound, `{"error":"Realm does not exist"}`)
			return
		}
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "client_credentials" {
			kcError(w, http.StatusBadRequest, `{"error":"unsupported_grant_type","error_description":"Unsupported grant_type"}`)
			return
		}
		if r.PostForm.Get("client_id") != k.clientID || r.PostForm.Get("client_secret") != k.clientSecret {
			kcError(w, http.StatusUnauthorized, `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`)
			return
		}
		k.issued++
		roles := []string{"view-users", "query-users"}
		if k.manageUsers {
			roles = append(roles, "manage-users")
		}
		claims, _ := json.Marshal(map[string]any{
			"exp": 0, "jti": fmt.Sprint(k.issued), "azp": k.clientID,
			"resource_access": map[string]any{"realm-management": map[string]any{"roles": roles}},
		})
		tok := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2lnbmF0dXJl"
		k.tokens[tok] = true
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"refresh_expires_in":0,"token_type":"Bearer","not-before-policy":0,"scope":"profile email"}`, tok, k.tokenLife)
		return
	}

	rest, ok := strings.CutPrefix(path, "/admin/realms/")
	if !ok {
		kcError(w, http.StatusNotFound, `{"error":"Unable to find matching target resource method"}`)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !k.tokens[tok] {
		kcError(w, http.StatusUnauthorized, `{"error":"HTTP 401 Unauthorized"}`)
		return
	}
	k.requests++
	if k.limitNext > 0 || (k.every429 > 0 && k.requests%k.every429 == 0) {
		k.limitNext = max(k.limitNext-1, 0)
		k.limited++
		w.Header().Set("Retry-After", "1")
		kcError(w, http.StatusTooManyRequests, `{"error":"Too many requests"}`)
		return
	}
	if k.fail5xx > 0 {
		k.fail5xx--
		kcError(w, http.StatusServiceUnavailable, `{"error":"Service Unavailable"}`)
		return
	}
	realm, tail, _ := strings.Cut(rest, "/")
	if realm != k.realm {
		kcError(w, http.StatusNotFound, `{"error":"Realm not found."}`)
		return
	}
	parts := strings.Split(tail, "/")
	write := r.Method != http.MethodGet
	if write && !k.manageUsers {
		kcError(w, http.StatusForbidden, `{"error":"HTTP 403 Forbidden"}`)
		return
	}
	switch {
	case len(parts) == 1 && parts[0] == "users" && r.Method == http.MethodGet:
		k.search(w, r)
	case len(parts) >= 2 && parts[0] == "users":
		u := k.users[parts[1]]
		if u == nil {
			kcError(w, http.StatusNotFound, `{"error":"User not found"}`)
			return
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(u)
		case len(parts) == 2 && r.Method == http.MethodPut:
			k.update(w, r, u)
		case len(parts) == 3 && parts[2] == "execute-actions-email" && r.Method == http.MethodPut:
			k.executeActionsEmail(w, r, u)
		case len(parts) == 3 && parts[2] == "logout" && r.Method == http.MethodPost:
			u.sessions = 0
			k.logouts[u.ID]++
			w.WriteHeader(http.StatusNoContent)
		default:
			kcError(w, http.StatusMethodNotAllowed, `{"error":"HTTP 405 Method Not Allowed"}`)
		}
	default:
		kcError(w, http.StatusNotFound, `{"error":"Unable to find matching target resource method"}`)
	}
}

func (k *keycloak) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	exact := q.Get("exact") == "true"
	match := func(field, want string) bool {
		if want == "" {
			return true
		}
		if exact {
			return strings.EqualFold(field, want)
		}
		return strings.Contains(field, strings.ToLower(want))
	}
	out := []map[string]any{}
	for _, u := range k.users {
		if match(u.Username, q.Get("username")) && match(u.Email, q.Get("email")) {
			rep := map[string]any{"id": u.ID, "username": u.Username, "email": u.Email, "enabled": u.Enabled}
			if q.Get("briefRepresentation") != "true" {
				rep["requiredActions"] = u.RequiredActions
			}
			out = append(out, rep)
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// update applies a user representation; like Keycloak it refuses to drop
// the username, and keeps what it was sent for the test to inspect.
func (k *keycloak) update(w http.ResponseWriter, r *http.Request, u *kcUser) {
	var rep map[string]any
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"Unrecognized field"}`)
		return
	}
	k.puts = append(k.puts, rep)
	if name, _ := rep["username"].(string); name != u.Username {
		kcError(w, http.StatusBadRequest, `{"field":"username","errorMessage":"error-user-attribute-read-only","params":["username"]}`)
		return
	}
	if ra, ok := rep["requiredActions"].([]any); ok {
		u.RequiredActions = nil
		for _, a := range ra {
			u.RequiredActions = append(u.RequiredActions, a.(string))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (k *keycloak) executeActionsEmail(w http.ResponseWriter, r *http.Request, u *kcUser) {
	var actions []string
	if err := json.NewDecoder(r.Body).Decode(&actions); err != nil || !slices.Equal(actions, []string{"UPDATE_PASSWORD"}) {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"Invalid actions"}`)
		return
	}
	q := r.URL.Query()
	if q.Get("redirect_uri") != "" && q.Get("client_id") == "" {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"Client id missing"}`)
		return
	}
	if c := q.Get("client_id"); c != "" && !k.emailClients[c] {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"Client doesn't exist"}`)
		return
	}
	if u.Email == "" {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"User email missing"}`)
		return
	}
	if !u.Enabled {
		kcError(w, http.StatusBadRequest, `{"errorMessage":"User is disabled"}`)
		return
	}
	k.emails[u.ID] = append(k.emails[u.ID], q.Get("lifespan"))
	w.WriteHeader(http.StatusNoContent)
}
