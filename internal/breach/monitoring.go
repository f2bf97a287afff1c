package breach

import (
	"fmt"
	"slices"
	"time"
)

// The follow-up monitoring of an incident (DESIGN.md track 5): reminders to
// the people whose forced password reset is still pending, abuse signals
// reported by the organisation, the alerts they raise and the reports to the
// DPO. Pure types and rules; the monitoring workflow, the store and the API
// use them.

// MonitoringWorkflowID is the workflow of an incident's follow-up monitoring,
// a child of the incident's workflow.
func MonitoringWorkflowID(incidentID string) string { return WorkflowID(incidentID) + "/monitoring" }

// MonitoringPartitionWorkflowID is the workflow sending one range of people
// of one reminder send.
func MonitoringPartitionWorkflowID(incidentID string, sendSeq, partition int) string {
	return fmt.Sprintf("%s/send/%d/partition/%d", MonitoringWorkflowID(incidentID), sendSeq, partition)
}

// MonitoringActor is who opens the complementary filing drafts that abuse
// alerts pre-fill. Drafting is the DPO's act and the draft is filed on the
// DPO's behalf, so it carries the DPO's role; being nobody's account, it can
// never approve: a person who did not draft it approves it (four-eyes).
var MonitoringActor = Actor{UserID: "system:monitoring", Role: RoleDPO}

// LetterKind is what a letter is for.
type LetterKind string

const (
	// LetterNotice is the communication of the breach to the people (Art. 34).
	LetterNotice LetterKind = "notice"
	// LetterReminder reminds a person whose forced password reset is still
	// pending, part of the measures to mitigate the breach's possible adverse
	// effects (Art. 33(3)(d), Art. 34(2)).
	LetterReminder LetterKind = "reminder"
)

// Valid reports a known kind.
func (k LetterKind) Valid() bool { return k == LetterNotice || k == LetterReminder }

// ReminderFields are what the drafter writes for the reminder, in one
// language. The rest is fixed text of the reminder (the reset is still
// pending, the phishing warning) or comes from the incident (the controller,
// its DPO).
type ReminderFields struct {
	Language Language `json:"language"`
	// Subject is the email's subject line: one line.
	Subject string `json:"subject"`
	// HowToReset says how to complete the reset, step by step, naming the
	// address to type (the reminder has no link: a letter that warns against
	// phishing does not ask people to click). Blank lines separate paragraphs.
	HowToReset string `json:"how_to_reset"`
	// Helpline and HelplineHours, as in the notice.
	Helpline      string `json:"helpline,omitempty"`
	HelplineHours string `json:"helpline_hours,omitempty"`
}

// Validate checks the fields on their own; errors name the JSON field, never
// quote the values.
func (f ReminderFields) Validate() error {
	var es Errors
	if f.Language == "" {
		es = append(es, Invalid("language", "required (%s)", list([]Language{French, English})))
	} else if f.Language != French && f.Language != English {
		es = append(es, Invalid("language", "unknown value; expected one of %s", list([]Language{French, English})))
	}
	required(&es, "subject", f.Subject, maxSubject)
	oneLine(&es, "subject", f.Subject)
	required(&es, "how_to_reset", f.HowToReset, maxLongText)
	if f.Helpline != "" && !validPhone(f.Helpline) {
		es = append(es, Invalid("helpline", "not a valid telephone number (digits, spaces, + . - ( ))"))
	}
	textLimit(&es, "helpline_hours", f.HelplineHours, maxShortText)
	oneLine(&es, "helpline_hours", f.HelplineHours)
	if f.HelplineHours != "" && f.Helpline == "" {
		es = append(es, Invalid("helpline_hours", "given without a helpline number"))
	}
	return es.Err()
}

// SignalKind is a kind of abuse the organisation observes after the leak.
type SignalKind string

const (
	SignalSuspiciousLogin SignalKind = "suspicious_login" // credential stuffing with the leaked data
	SignalAccountTakeover SignalKind = "account_takeover"
	SignalPhishingReport  SignalKind = "phishing_report" // phishing quoting the leaked data
	SignalDarkWebMention  SignalKind = "dark_web_mention"
)

// SignalKinds lists the kinds, in the order reports show them.
var SignalKinds = []SignalKind{SignalAccountTakeover, SignalSuspiciousLogin, SignalPhishingReport, SignalDarkWebMention}

// Valid reports a known kind.
func (k SignalKind) Valid() bool { return slices.Contains(SignalKinds, k) }

// Threshold raises an alert when Count signals of a kind are observed within
// one Window of the monitoring period (windows are counted from its start);
// Window 0 counts over the whole period.
type Threshold struct {
	Count  int64         `json:"count"`
	Window time.Duration `json:"window,omitempty"`
}

// DefaultThresholds: one account taken over or one mention of the data for
// sale is already a new fact of the breach; logins and phishing reports are
// noise until they come in numbers.
var DefaultThresholds = map[SignalKind]Threshold{
	SignalAccountTakeover: {Count: 1},
	SignalSuspiciousLogin: {Count: 100, Window: 24 * time.Hour},
	SignalPhishingReport:  {Count: 10},
	SignalDarkWebMention:  {Count: 1},
}

// Window is the index of the window of w that t falls in, counted from start
// (negative before it), and its bounds. A zero w is one window, index 0,
// without bounds.
func Window(start, t time.Time, w time.Duration) (idx int64, from, to time.Time) {
	if w <= 0 {
		return 0, time.Time{}, time.Time{}
	}
	d := t.Sub(start)
	idx = int64(d / w)
	if d < 0 && d%w != 0 {
		idx--
	}
	from = start.Add(time.Duration(idx) * w)
	return idx, from, from.Add(w)
}

// maxSignalCount bounds one signal's count: far above any real report, low
// enough that sums stay exact.
const maxSignalCount = 1_000_000_000

// MaxSignalsPerCall and MaxAccountsPerSignal bound one webhook call.
const (
	MaxSignalsPerCall    = 1000
	MaxAccountsPerSignal = 10_000
)

// AbuseSignal is one signal as the organisation reports it. AccountIDs are
// personal data: they are kept only as keyed blind indexes, and never leave
// the API handler otherwise.
type AbuseSignal struct {
	Kind       SignalKind `json:"kind"`
	Count      int64      `json:"count"`
	ObservedAt time.Time  `json:"observed_at"`
	AccountIDs []string   `json:"account_ids,omitempty"`
}

// ValidateSignals checks one webhook call's signals; errors name the field
// ("signals[2].count"), never quote a value. now bounds observed_at: a signal
// from the future (beyond clock skew) is refused.
func ValidateSignals(signals []AbuseSignal, now time.Time) error {
	var es Errors
	switch {
	case len(signals) == 0:
		es = append(es, Invalid("signals", "at least one signal is required"))
	case len(signals) > MaxSignalsPerCall:
		es = append(es, Invalid("signals", "at most %d signals per call", MaxSignalsPerCall))
	}
	for i, s := range signals {
		f := func(name string) string { return fmt.Sprintf("signals[%d].%s", i, name) }
		if !s.Kind.Valid() {
			es = append(es, Invalid(f("kind"), "unknown kind; expected one of %s", list(SignalKinds)))
		}
		if s.Count < 1 || s.Count > maxSignalCount {
			es = append(es, Invalid(f("count"), "must be 1 to %d", maxSignalCount))
		}
		switch {
		case s.ObservedAt.IsZero():
			es = append(es, Invalid(f("observed_at"), "required (RFC 3339)"))
		case s.ObservedAt.After(now.Add(5 * time.Minute)):
			es = append(es, Invalid(f("observed_at"), "is in the future"))
		}
		if len(s.AccountIDs) > MaxAccountsPerSignal {
			es = append(es, Invalid(f("account_ids"), "at most %d per signal", MaxAccountsPerSignal))
		}
		for j, id := range s.AccountIDs {
			if id == "" || len(id) > 256 {
				es = append(es, Invalid(fmt.Sprintf("signals[%d].account_ids[%d]", i, j), "must be 1 to 256 bytes"))
				break
			}
		}
	}
	return es.Err()
}

// SignalCount is a number of signals of one kind: what crosses the workflow
// boundary of an ingestion (IDs and counts only).
type SignalCount struct {
	Kind     SignalKind `json:"kind"`
	Count    int64      `json:"count"`
	Accounts int64      `json:"accounts,omitempty"` // account IDs named, not the IDs
}

// Crossing is a window of one kind whose signals reached the kind's threshold.
type Crossing struct {
	Kind      SignalKind `json:"kind"`
	Window    int64      `json:"window"`
	From      *time.Time `json:"from,omitempty"` // nil: the whole period
	To        *time.Time `json:"to,omitempty"`
	Observed  int64      `json:"observed"`
	Threshold int64      `json:"threshold"`
}

// Key names the crossing: an alert is raised once per key.
func (c Crossing) Key() string { return fmt.Sprintf("threshold/%s/%d", c.Kind, c.Window) }

// Alert kinds.
const (
	AlertThreshold             = "threshold"
	AlertReminderLetterMissing = "reminder_letter_missing"
)

// MonitoringAlert is an alert raised to the DPO, as stored.
type MonitoringAlert struct {
	ID         string         `json:"id"`
	IncidentID string         `json:"incident_id"`
	Key        string         `json:"key"`
	Kind       string         `json:"kind"`
	SignalKind SignalKind     `json:"signal_kind,omitempty"`
	Observed   int64          `json:"observed"`
	Threshold  int64          `json:"threshold"`
	WindowFrom *time.Time     `json:"window_from,omitempty"`
	WindowTo   *time.Time     `json:"window_to,omitempty"`
	Detail     map[string]any `json:"detail,omitempty"`
	RaisedAt   time.Time      `json:"raised_at"`
	MailedAt   *time.Time     `json:"mailed_at,omitempty"`
	DraftSeq   *int           `json:"draft_seq,omitempty"`
	DraftError string         `json:"draft_error,omitempty"`
}

// SendCounts are the ledger's counts of one round: 0 the notice, then the
// reminders.
type SendCounts struct {
	Round  int            `json:"round"`
	Counts DeliveryCounts `json:"counts"`
}

// SignalTotal sums the signals of one kind.
type SignalTotal struct {
	Kind     SignalKind `json:"kind"`
	Total    int64      `json:"total"`     // since monitoring began
	InPeriod int64      `json:"in_period"` // within the report's period
	Accounts int64      `json:"accounts"`  // account IDs named, in total
}

// ReportSummary is what a monitoring report shows: counts, dates, stages.
// No personal data.
type ReportSummary struct {
	IncidentID  string            `json:"incident_id"`
	Reference   string            `json:"reference"`
	Title       string            `json:"title"`
	Seq         int               `json:"seq"`
	Final       bool              `json:"final"`
	Monitoring  [2]time.Time      `json:"monitoring"` // the whole period: start, end
	PeriodFrom  time.Time         `json:"period_from"`
	PeriodTo    time.Time         `json:"period_to"`
	Deliveries  []SendCounts      `json:"deliveries"`
	Resets      ResetCounts       `json:"resets"`
	Signals     []SignalTotal     `json:"signals"`
	Alerts      []MonitoringAlert `json:"alerts"` // raised within the period
	Deadlines   []Deadline        `json:"deadlines"`
	Language    Language          `json:"language"`
	EndedEarly  bool              `json:"ended_early,omitempty"` // final report of a period closed early
	GeneratedAt time.Time         `json:"generated_at"`
}

// MonitoringReport is a report as stored (without its HTML).
type MonitoringReport struct {
	ID          string        `json:"id"`
	IncidentID  string        `json:"incident_id"`
	Seq         int           `json:"seq"`
	Final       bool          `json:"final"`
	PeriodFrom  time.Time     `json:"period_from"`
	PeriodTo    time.Time     `json:"period_to"`
	Summary     ReportSummary `json:"summary"`
	ContentHash string        `json:"content_hash"`
	CreatedAt   time.Time     `json:"created_at"`
	MailedAt    *time.Time    `json:"mailed_at,omitempty"`
}

// OpenDeadlines derives the incident's dated obligations from its awareness
// time and filings (as the incident page does) and keeps those not filed.
func OpenDeadlines(inc Incident, filings []Filing) []Deadline {
	var out []Deadline
	for _, d := range IncidentDeadlines(inc, filings) {
		if !d.Filed {
			out = append(out, d)
		}
	}
	return out
}

// IncidentDeadlines derives every dated obligation of the incident's
// regimes from its awareness time and its filings (the first filing of each
// stage anchors the later ones).
func IncidentDeadlines(inc Incident, filings []Filing) []Deadline {
	filed := map[RegimeCode]map[StageCode]time.Time{}
	for _, f := range filings {
		m := filed[f.Key.Regime]
		if m == nil {
			m = map[StageCode]time.Time{}
			filed[f.Key.Regime] = m
		}
		if at, ok := m[f.Key.Stage]; !ok || f.FiledAt.Before(at) {
			m[f.Key.Stage] = f.FiledAt
		}
	}
	codes := []RegimeCode{RegimeGDPR}
	for _, r := range inc.Regimes {
		if r != RegimeGDPR {
			codes = append(codes, r)
		}
	}
	var out []Deadline
	for _, code := range codes {
		out = append(out, Regimes[code].Deadlines(inc.AwareAt, filed[code])...)
	}
	return out
}
