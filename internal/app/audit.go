package app

import (
	"context"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// AuditLog returns the audit rows of one incident, or all of them.
func (s *Service) AuditLog(ctx context.Context, actor breach.Actor, incidentID string) ([]store.AuditRow, error) {
	if err := s.authorize(ctx, actor, incidentID, "read the audit log", breach.RoleAuditor, breach.RoleDPO); err != nil {
		return nil, err
	}
	return s.Store.AuditLog(ctx, incidentID)
}

// VerifyAudit recomputes the audit chain and names the first row that does not match.
func (s *Service) VerifyAudit(ctx context.Context, actor breach.Actor) (store.AuditVerification, error) {
	return s.VerifyAuditAnchor(ctx, actor, nil)
}

// VerifyAuditAnchor also requires the row with the anchor hash (a head hash
// the auditor kept outside the database) to be in the chain.
func (s *Service) VerifyAuditAnchor(ctx context.Context, actor breach.Actor, anchor []byte) (store.AuditVerification, error) {
	if err := s.authorize(ctx, actor, "", "verify the audit log", breach.RoleAuditor, breach.RoleAdmin, breach.RoleDPO); err != nil {
		return store.AuditVerification{}, err
	}
	return s.Store.VerifyAuditAnchor(ctx, anchor)
}

// Register is the Art. 33(5) register: every incident, notified or not.
func (s *Service) Register(ctx context.Context, actor breach.Actor) ([]store.RegisterEntry, error) {
	if err := s.authorize(ctx, actor, "", "export the register", breach.RoleAuditor, breach.RoleDPO); err != nil {
		return nil, err
	}
	return s.Store.Register(ctx)
}
