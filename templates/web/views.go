// Package webui holds the web pages as templ components: pure functions of
// the view models below, which the handlers of internal/web fill from the use
// cases. The package depends on the domain (internal/breach) and on the
// message catalogue only, so that the dossier templates next to it stay apart.
// Pages load nothing but the server's own stylesheet and scripts, and carry no
// inline script or style: the Content-Security-Policy forbids both.
package webui

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/web/i18n"
)

// Page is what every page has: the language, the account, the CSRF token for
// its forms and the addresses of the static files.
type Page struct {
	L      i18n.Lang
	Title  string
	User   *User // nil when signed out
	CSRF   string
	Nav    string // the current section: "register", "new", "admin"
	Notice string // key of a message to show at the top, after an action
	Assets Assets
	Now    time.Time
}

// T is the page's message for key.
func (p Page) T(key string, args ...any) string { return p.L.T(key, args...) }

// Is reports whether the signed-in user has one of the roles.
func (p Page) Is(roles ...breach.Role) bool {
	if p.User == nil {
		return false
	}
	for _, r := range roles {
		if p.User.Role == r {
			return true
		}
	}
	return false
}

// User is the signed-in account.
type User struct {
	ID       string
	Username string
	Name     string
	Role     breach.Role
	Language string // the preference, "" when following the browser
}

// Assets are the versioned URLs of the static files.
type Assets struct {
	CSS  string
	JS   string
	HTMX string
	Icon string
}

// Form is a form's values as submitted, with the errors found, by field.
type Form struct {
	Values    url.Values
	Errors    map[string]string // field name -> message, already translated
	General   []string          // errors that name no field
	RequestID string            // idempotency key of the action the form sends
}

// Get is the submitted value of a field.
func (f Form) Get(name string) string { return f.Values.Get(name) }

// Checked reports whether a checkbox or radio of the field had value.
func (f Form) Checked(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Err is the error of a field, "" when none.
func (f Form) Err(name string) string { return f.Errors[name] }

// HasErrors reports whether the form was refused.
func (f Form) HasErrors() bool { return len(f.Errors) > 0 || len(f.General) > 0 }

// ID is the element id of a field: "controller.dpo.email" -> "f-controller-dpo-email".
func ID(name string) string {
	r := strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-")
	return "f-" + r.Replace(name)
}

// Option is one choice of a select, checkbox group or radio group.
type Option struct {
	Value string
	Label string
}

// Step is something an incident waits for or a person may do, with the page
// that does it.
type Step struct {
	Role     breach.Role
	Kind     string
	Key      breach.DraftKey
	DraftID  string
	Version  int
	Href     string
	Optional bool
}

// SignInView is the sign-in page.
type SignInView struct {
	Form      Form
	Next      string
	Failed    bool
	Throttled bool
	Token     string // the pre-session token the sign-in form sends back
	// OIDCName names the OpenID Connect provider, and OIDCURL starts its
	// sign-in; "" when none is configured.
	OIDCName string
	OIDCURL  string
}

// RegisterView is the home page: the register.
type RegisterView struct {
	Lines       []RegisterLine
	Filter      RegisterFilter
	Total       int
	All         int
	Page        int
	Pages       int
	Overdue     int
	ForDPO      int
	ForApprover int
	CanOpen     bool
	CanExport   bool
	PrevURL     string
	NextURL     string
}

// RegisterFilter is the register's filter as given in the query.
type RegisterFilter struct {
	State   string
	Risk    string
	Waiting string
	Q       string
	Overdue bool
}

// RegisterLine is one incident of the register.
type RegisterLine struct {
	ID        string
	Reference string
	Title     string
	State     breach.IncidentState
	Decided   breach.Risk
	Next      *breach.Deadline
	Waiting   []Step
	Subjects  int64
	AwareAt   time.Time
}

// NewIncidentView is the facts form.
type NewIncidentView struct {
	Form    Form
	Preview *breach.Assessment
}

// AssessView is the assessment form of an opened incident.
type AssessView struct {
	Incident breach.Incident
	Proposal breach.Assessment
	Current  *breach.AssessmentRecord
	Form     Form
}

// DeadlineRow is one deadline on the incident page.
type DeadlineRow struct {
	breach.Deadline
	Applies      bool // false: no risk was found, nothing to file under the GDPR
	Reminders    int
	LastReminder *time.Time
	Escalated    bool
}

// DraftGroup is one draft (a regime's stage and seq) with its versions, newest first.
type DraftGroup struct {
	Key      breach.DraftKey
	Versions []breach.DraftVersion
}

// TimelineRow is one line of the incident page's timeline: an audit row (a
// decision, with its ID) or an event of one of the incident's workflows.
type TimelineRow struct {
	ID       int64 // the audit row's; 0 for a workflow event
	At       time.Time
	Workflow bool // a workflow event; Who names the workflow
	Who      string
	Role     string
	Action   string
	Detail   string
}

// PeopleProgress is the letters' progress by state, from the counters.
type PeopleProgress struct {
	Counts breach.DeliveryCounts
	Total  int64
	Done   int64
}

// MonitoringLists are the follow-up's alerts and reports, newest last.
type MonitoringLists struct {
	Alerts  []breach.MonitoringAlert
	Reports []breach.MonitoringReport
}

// AccountsProgress is the forced password reset's progress (the credential
// track), from the counters.
type AccountsProgress struct {
	State       breach.TrackState // idle before the start
	Round       int
	Connector   string // the connector's kind
	StartedAt   *time.Time
	Counts      breach.ResetCounts
	Handled     int64  // done + failed
	LastError   string // the connector's error that paused the track
	Paused      string // why it is paused
	PollError   string
	Daily       []DayCompletions
	CompletedPc float64 // completed / done, in percent
}

// DayCompletions is the completions of one day (Europe/Paris).
type DayCompletions struct {
	Day       string // YYYY-MM-DD
	Completed int64
}

// IncidentView is the incident page.
type IncidentView struct {
	Incident   breach.Incident
	Assessment *breach.AssessmentRecord
	Deadlines  []DeadlineRow
	Drafts     []DraftGroup
	Filings    []breach.Filing
	Timeline   []TimelineRow
	// People is the progress of the letters to the people (from the
	// ledger's counters); nil when it could not be read.
	People *PeopleProgress
	// Monitoring lists the follow-up's alerts and reports (DPO and
	// auditors); nil for the others.
	Monitoring *MonitoringLists
	// Accounts is the progress of the forced password reset; nil when it
	// could not be read.
	Accounts *AccountsProgress
	// WorkflowsUnavailable: the workflow events could not be read in time;
	// the timeline shows the audit rows only.
	WorkflowsUnavailable bool
	Actions              []Step
	Waiting              []Step
	Names                map[string]string
	CanAudit             bool
	CloseForm            *Form // the closing form, when the user may close the incident
}

// Name is an account's display name from its ID.
func Name(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	if id == "system" {
		return "—"
	}
	return id
}

// DraftFormView is the form writing a new version of a draft.
type DraftFormView struct {
	Incident    breach.Incident
	Key         breach.DraftKey
	BaseVersion int
	DueAt       *time.Time
	Late        bool
	Form        Form
}

// Chunk is a piece of a diff: equal, inserted or deleted text.
type Chunk struct {
	Op   int // 0 equal, 1 inserted, -1 deleted
	Text string
}

// FieldDiff is one text field of a draft compared with the previous version.
type FieldDiff struct {
	Field   string // the DraftFields JSON name
	Changed bool
	Left    []Chunk // the previous version: equal and deleted text
	Right   []Chunk // this version: equal and inserted text
}

// DraftView is a draft version: the dossier as it will be filed, the diff
// against the previous version, and the decision form for those who may decide.
type DraftView struct {
	Incident  breach.Incident
	Draft     breach.DraftVersion
	Versions  []breach.DraftVersion // of the same draft, newest first
	Previous  *breach.DraftVersion
	Diff      []FieldDiff
	MayDecide bool
	IsAuthor  bool
	MayEdit   bool
	MayFile   bool
	Form      Form
	Names     map[string]string
}

// FilingView is the form recording a filing.
type FilingView struct {
	Incident breach.Incident
	Draft    breach.DraftVersion
	DueAt    *time.Time
	Late     bool // the deadline has passed: reasons for the delay are asked
	Form     Form
	Channels []string
}

// AuditRowView is one audit row with its before and after, indented.
type AuditRowView struct {
	ID       int64
	At       time.Time
	Who      string
	Role     string
	Action   string
	Before   string
	After    string
	Hash     string
	PrevHash string
}

// Verification is the audit chain's verification result.
type Verification struct {
	Rows       int64
	OK         bool
	FirstBadID int64
	Reason     string
}

// AuditView is an incident's audit page.
type AuditView struct {
	Incident     breach.Incident
	Rows         []AuditRowView
	Verification Verification
}

// HistoryEvent is one event of a workflow's history, payloads decoded.
type HistoryEvent struct {
	ID       int64
	At       time.Time
	Type     string
	Details  string
	Payloads []string
}

// WorkflowHistory is one workflow's history.
type WorkflowHistory struct {
	WorkflowID string
	Missing    bool
	Truncated  bool
	Events     []HistoryEvent
}

// HistoryView is the decoded Temporal history of an incident's workflows.
type HistoryView struct {
	Incident  breach.Incident
	Workflows []WorkflowHistory
}

// PeopleView is the people page of an incident: the import, the progress
// of the letters, and the letters as a sample person receives them.
type PeopleView struct {
	Incident  breach.Incident
	Counts    breach.DeliveryCounts
	Total     int64
	Done      int64
	CanImport bool
	Import    *ImportView
	Letters   []LetterView
	Form      Form
}

// ImportView is the outcome of an import, with its rejects.
type ImportView struct {
	OK        bool
	Message   string
	Loaded    int64
	Merged    int64
	Rejected  int64
	Rejects   []Reject
	Truncated bool
	Format    string
	Encoding  string
}

// Reject is one rejected line of an import.
type Reject struct {
	Line   int64
	Reason string
}

// LetterView is the current letter in one language.
type LetterView struct {
	Language string
	Version  int
	State    string
}

// RecordView is the printable record of an incident.
type RecordView struct {
	Incident     breach.Incident
	Assessments  []breach.AssessmentRecord
	Deadlines    []DeadlineRow
	Drafts       []DraftGroup
	Filings      []breach.Filing
	Rows         []AuditRowView
	Verification Verification
	Names        map[string]string
	PrintedAt    time.Time
}

// Account is one account on the admin page.
type Account struct {
	ID          string
	Username    string
	DisplayName string
	Role        breach.Role
	CreatedAt   time.Time
	Disabled    bool
	Self        bool
}

// AdminView is the accounts page.
type AdminView struct {
	Accounts []Account
	Form     Form
}

// ErrorView is an error page.
type ErrorView struct {
	Status  int
	Message string
}

func itoa(n int) string      { return strconv.Itoa(n) }
func i64(n int64) string     { return strconv.FormatInt(n, 10) }
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// score writes an ENISA value: 2, 2.5, 3.25.
func score(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// seqLabel names a draft key: "initial", "complementary #2".
func seqLabel(l i18n.Lang, k breach.DraftKey) string {
	s := l.Code("stage", string(k.Stage))
	if k.Stage == breach.StageComplementary && k.Seq > 0 {
		s += " #" + strconv.Itoa(k.Seq)
	}
	return s
}

// draftTitle names a draft version: "GDPR (CNIL) · initial notification · version 2".
func draftTitle(l i18n.Lang, k breach.DraftKey, version int) string {
	return l.Code("regime", string(k.Regime)) + " · " + seqLabel(l, k) + " · " + l.T("draft.version", version)
}
