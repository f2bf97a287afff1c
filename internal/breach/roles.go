package breach

// Role is what an account may do. Every HTTP handler and every workflow update
// validator checks it.
type Role string

const (
	RoleDPO      Role = "dpo"      // opens incidents, assesses, files with authorities
	RoleApprover Role = "approver" // reviews and approves outgoing texts (four-eyes)
	RoleAuditor  Role = "auditor"  // reads everything, verifies the audit chain
	RoleAdmin    Role = "admin"    // manages accounts and tokens
)

// Roles lists every role, in a stable order.
var Roles = []Role{RoleDPO, RoleApprover, RoleAuditor, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Actor is who asked for a change, as authenticated by the HTTP server. It is
// carried in update payloads and in audit rows by ID, never by name or email.
type Actor struct {
	UserID string `json:"user_id"`
	Role   Role   `json:"role"`
}

// System is the actor for changes the engine makes by itself (timers).
var System = Actor{UserID: "system", Role: ""}
