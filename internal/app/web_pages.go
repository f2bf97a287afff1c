package app

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/store"
)

// Use cases the web pages need besides those the JSON API shares.

// Require checks that the actor holds one of the roles before a page shows a
// form for an action (opening an incident, assessing, filing); a refusal is
// audited like any other.
func (s *Service) Require(ctx context.Context, actor breach.Actor, incidentID, action string, roles ...breach.Role) error {
	return s.authorize(ctx, actor, incidentID, action, roles...)
}

// Timeline is an incident's audit rows, oldest first, for everyone who may
// read the incident: what happened, when and by whom. The full before/after
// detail with the hashes is the audit page's (AuditLog).
func (s *Service) Timeline(ctx context.Context, actor breach.Actor, incidentID string) ([]store.AuditRow, error) {
	if err := s.authorize(ctx, actor, incidentID, "read the timeline", readers...); err != nil {
		return nil, err
	}
	return s.Store.AuditLog(ctx, incidentID)
}

// Directory maps account IDs to the names shown on pages ("Dev dpo (dpo)"),
// for everyone who reads incidents: the audit rows and drafts carry IDs only.
func (s *Service) Directory(ctx context.Context, actor breach.Actor) (map[string]string, error) {
	if err := s.authorize(ctx, actor, "", "read the account names", breach.RoleDPO, breach.RoleApprover, breach.RoleAuditor, breach.RoleAdmin); err != nil {
		return nil, err
	}
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(users)+1)
	for _, u := range users {
		name := u.DisplayName
		if name == "" {
			name = u.Username
		}
		out[u.ID] = name
	}
	return out, nil
}

// PreviewAssessment runs the risk method on facts being entered, before the
// incident exists: the DPO sees the ENISA breakdown as the form fills in.
// Nothing is written.
func (s *Service) PreviewAssessment(ctx context.Context, actor breach.Actor, f breach.Facts) (breach.Assessment, error) {
	if err := s.authorize(ctx, actor, "", "preview an assessment", breach.RoleDPO); err != nil {
		return breach.Assessment{}, err
	}
	return breach.Assess(f), nil
}

// SetLanguage records the language the actor reads the pages in ("" follows the browser).
func (s *Service) SetLanguage(ctx context.Context, actor breach.Actor, language string) error {
	if actor.UserID == "" {
		return breach.Errorf(breach.ErrUnauthenticated, "sign in first")
	}
	return s.Store.SetUserLanguage(ctx, actor.UserID, language)
}

// SetAccountDisabled disables an account (its sessions end, its tokens stop
// working) or enables it again. Admins may not disable their own account: an
// engine without an admin cannot be managed from its pages.
func (s *Service) SetAccountDisabled(ctx context.Context, actor breach.Actor, userID string, disabled bool) error {
	action := "enable an account"
	if disabled {
		action = "disable an account"
	}
	if err := s.authorize(ctx, actor, "", action, breach.RoleAdmin); err != nil {
		return err
	}
	if disabled && userID == actor.UserID {
		return breach.Errorf(breach.ErrConflict, "you may not disable your own account")
	}
	if err := s.Store.SetUserDisabled(ctx, actor, userID, disabled); err != nil {
		return err
	}
	if disabled {
		if _, err := s.Store.EndUserSessions(ctx, userID); err != nil {
			return err
		}
	}
	return nil
}

// RegisterQuery filters and pages the register.
type RegisterQuery struct {
	State   breach.IncidentState // "" for every state
	Risk    string               // "none", "risk", "high", "unassessed" or ""
	Waiting breach.Role          // only incidents waiting for this role; "" for all
	Overdue bool                 // only incidents with a deadline passed unfiled
	Search  string               // in the title and the reference, case-insensitive
	Page    int                  // 1..
	PerPage int                  // default 50
}

// RegisterLine is one incident on the register page.
type RegisterLine struct {
	ID             string
	Reference      string
	Title          string
	State          breach.IncidentState
	Decided        breach.Risk
	AwareAt        time.Time
	CreatedAt      time.Time
	ApproxSubjects int64
	Next           *breach.Deadline // earliest unfiled deadline that applies
	Waiting        []Step
}

// RegisterPage is one page of the register with the totals of the filter.
type RegisterPage struct {
	Lines      []RegisterLine
	Total      int // incidents matching the filter
	All        int // incidents in the register
	Page       int
	Pages      int
	Overdue    int // among all incidents
	ForDPO     int // waiting for a DPO, among all incidents
	ForApprove int // waiting for an approver, among all incidents
}

// RegisterCache keeps the register computed for the audit head it was read
// at (Store.AuditHead): while nothing changes, a page of the register costs
// one index look-up and a sort. Share one between requests; nil disables it.
type RegisterCache struct {
	mu    sync.Mutex
	head  int64
	valid bool
	lines []prepared
}

// prepared is an incident of the register with what the page derives from
// it, computed once per change of the register: read only.
type prepared struct {
	sum         *store.IncidentSummary
	waiting     []Step
	next        *breach.Deadline
	due         int64 // unix nanoseconds of next; max when none
	created     int64
	title, ref  string // lower case, for the search
	forDPO      bool
	forApprover bool
}

func prepare(sums []store.IncidentSummary) []prepared {
	out := make([]prepared, len(sums))
	for i := range sums {
		sum := &sums[i]
		st := IncidentState{State: sum.State, Regimes: sum.Regimes, Assessed: sum.Decided != "", Decided: sum.Decided,
			Drafts: sum.Drafts, Filings: sum.Filings}
		p := prepared{sum: sum, waiting: Waiting(st), due: math.MaxInt64, created: sum.CreatedAt.UnixNano(),
			title: strings.ToLower(sum.Title), ref: strings.ToLower(sum.Reference)}
		if d, ok := NextDeadline(st, sum.AwareAt); ok {
			p.next, p.due = &d, d.DueAt.UnixNano()
		}
		p.forDPO, p.forApprover = waitsFor(p.waiting, breach.RoleDPO), waitsFor(p.waiting, breach.RoleApprover)
		out[i] = p
	}
	return out
}

// load returns the prepared register, from the cache when the audit head
// has not moved since it was read.
func (c *RegisterCache) load(ctx context.Context, st *store.Store) ([]prepared, error) {
	if c == nil {
		sums, _, err := st.IncidentSummaries(ctx)
		if err != nil {
			return nil, err
		}
		return prepare(sums), nil
	}
	head, err := st.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.valid && c.head == head {
		lines := c.lines
		c.mu.Unlock()
		return lines, nil
	}
	c.mu.Unlock()
	sums, read, err := st.IncidentSummaries(ctx)
	if err != nil {
		return nil, err
	}
	lines := prepare(sums)
	c.mu.Lock()
	if !c.valid || read >= c.head {
		c.head, c.valid, c.lines = read, true, lines
	}
	c.mu.Unlock()
	return lines, nil
}

// RegisterOverview is the register as the home page shows it: every incident
// with its state, risk, next deadline and what it waits for, filtered, sorted
// by urgency (overdue first, then the nearest deadline, then the newest) and
// paged. The counts cover every incident, whatever the filter.
func (s *Service) RegisterOverview(ctx context.Context, actor breach.Actor, q RegisterQuery, cache *RegisterCache) (RegisterPage, error) {
	if err := s.authorize(ctx, actor, "", "list incidents", readers...); err != nil {
		return RegisterPage{}, err
	}
	all, err := cache.load(ctx, s.Store)
	if err != nil {
		return RegisterPage{}, err
	}
	now := s.now().UnixNano()
	search := strings.ToLower(strings.TrimSpace(q.Search))
	page := RegisterPage{All: len(all)}
	matches := make([]*prepared, 0, len(all))
	for i := range all {
		p := &all[i]
		overdue := p.next != nil && p.due < now
		if overdue {
			page.Overdue++
		}
		if p.forDPO {
			page.ForDPO++
		}
		if p.forApprover {
			page.ForApprove++
		}
		sum := p.sum
		switch {
		case q.State != "" && sum.State != q.State,
			q.Risk == "unassessed" && sum.Decided != "",
			q.Risk != "" && q.Risk != "unassessed" && string(sum.Decided) != q.Risk,
			q.Waiting == breach.RoleDPO && !p.forDPO,
			q.Waiting == breach.RoleApprover && !p.forApprover,
			q.Waiting != "" && q.Waiting != breach.RoleDPO && q.Waiting != breach.RoleApprover && !waitsFor(p.waiting, q.Waiting),
			q.Overdue && !overdue,
			search != "" && !strings.Contains(p.title, search) && !strings.Contains(p.ref, search):
			continue
		}
		matches = append(matches, p)
	}
	// Most urgent first: the nearest deadline (overdue ones are the nearest),
	// then the newest, then by ID for a stable order.
	slices.SortFunc(matches, func(a, b *prepared) int {
		switch {
		case a.due != b.due:
			return cmp.Compare(a.due, b.due)
		case a.created != b.created:
			return cmp.Compare(b.created, a.created)
		}
		return strings.Compare(a.sum.ID, b.sum.ID)
	})
	per := q.PerPage
	if per <= 0 {
		per = 50
	}
	page.Total = len(matches)
	page.Pages = max(1, (len(matches)+per-1)/per)
	page.Page = min(max(1, q.Page), page.Pages)
	from := (page.Page - 1) * per
	for _, p := range matches[from:min(from+per, len(matches))] {
		sum := p.sum
		page.Lines = append(page.Lines, RegisterLine{
			ID: sum.ID, Reference: sum.Reference, Title: sum.Title, State: sum.State, Decided: sum.Decided,
			AwareAt: sum.AwareAt, CreatedAt: sum.CreatedAt, ApproxSubjects: sum.ApproxSubjects,
			Next: p.next, Waiting: p.waiting,
		})
	}
	return page, nil
}

func waitsFor(steps []Step, role breach.Role) bool {
	for _, s := range steps {
		if s.Role == role {
			return true
		}
	}
	return false
}
