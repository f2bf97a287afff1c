package breach

import (
	"sort"
	"time"
)

// RegimeCode names a reporting regime.
type RegimeCode string

const (
	RegimeGDPR RegimeCode = "gdpr" // GDPR Art. 33, the CNIL in France: always on
	RegimeNIS2 RegimeCode = "nis2" // NIS2 Art. 23, the CSIRT (ANSSI in France): where configured
)

// StageCode names one filing of a regime.
type StageCode string

const (
	StageInitial       StageCode = "initial"       // GDPR Art. 33(1)
	StageComplementary StageCode = "complementary" // GDPR Art. 33(4): repeatable
	StageWithdrawal    StageCode = "withdrawal"    // GDPR Art. 33(4): not a breach after all
	StageEarlyWarning  StageCode = "early_warning" // NIS2 Art. 23(4)(a)
	StageNotification  StageCode = "notification"  // NIS2 Art. 23(4)(b)
	StageFinalReport   StageCode = "final_report"  // NIS2 Art. 23(4)(d)
)

// Due says when a stage is due: After past the anchor, plus Months calendar
// months. The anchor is the awareness time, or the filing of another stage (its
// due time while it is not filed).
type Due struct {
	AfterStage StageCode     `json:"after_stage,omitempty"` // empty: aware_at
	After      time.Duration `json:"after,omitempty"`
	Months     int           `json:"months,omitempty"`
}

// Stage is one filing a regime asks for.
type Stage struct {
	Code StageCode `json:"code"`
	// Due is nil for filings with no fixed deadline (complementary, withdrawal).
	Due *Due `json:"due,omitempty"`
	// Requires is the stage that must be filed before this one can be drafted.
	Requires StageCode `json:"requires,omitempty"`
	// Repeatable stages can be filed any number of times.
	Repeatable bool `json:"repeatable,omitempty"`
	// Closes marks the stage whose filing ends the regime's obligations.
	Closes bool `json:"closes,omitempty"`
}

// Regime is a reporting regime as data: the authority and its stages. Workflows
// and pages walk this table; no regime has a code path of its own.
type Regime struct {
	Code      RegimeCode `json:"code"`
	Authority string     `json:"authority"`
	Article   string     `json:"article"`
	Stages    []Stage    `json:"stages"`
}

// Regimes is every regime the engine knows.
var Regimes = map[RegimeCode]Regime{
	RegimeGDPR: {
		Code: RegimeGDPR, Authority: "CNIL", Article: "GDPR Art. 33",
		Stages: []Stage{
			// Art. 33(1): within 72 hours of becoming aware.
			{Code: StageInitial, Due: &Due{After: 72 * time.Hour}},
			// Art. 33(4): further information in phases, without undue further delay.
			{Code: StageComplementary, Requires: StageInitial, Repeatable: true},
			// Art. 33(4): an initial notification can be withdrawn when it was not a breach.
			{Code: StageWithdrawal, Requires: StageInitial, Closes: true},
		},
	},
	RegimeNIS2: {
		Code: RegimeNIS2, Authority: "ANSSI (CSIRT)", Article: "NIS2 Art. 23",
		Stages: []Stage{
			// Art. 23(4)(a): early warning within 24 hours of becoming aware.
			{Code: StageEarlyWarning, Due: &Due{After: 24 * time.Hour}},
			// Art. 23(4)(b): incident notification within 72 hours.
			{Code: StageNotification, Due: &Due{After: 72 * time.Hour}},
			// Art. 23(4)(d): final report one month after the incident notification.
			{Code: StageFinalReport, Due: &Due{AfterStage: StageNotification, Months: 1}, Requires: StageNotification, Closes: true},
		},
	},
}

// RegimeCodes lists the known regimes in a stable order.
func RegimeCodes() []RegimeCode {
	out := make([]RegimeCode, 0, len(Regimes))
	for c := range Regimes {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Stage returns the stage with the given code.
func (r Regime) Stage(code StageCode) (Stage, bool) {
	for _, s := range r.Stages {
		if s.Code == code {
			return s, true
		}
	}
	return Stage{}, false
}

// DueAt computes when stage is due, from the awareness time and the times at
// which stages were filed (first filing of each). ok is false when the stage has
// no deadline.
func (r Regime) DueAt(stage StageCode, awareAt time.Time, filed map[StageCode]time.Time) (time.Time, bool) {
	s, found := r.Stage(stage)
	if !found || s.Due == nil {
		return time.Time{}, false
	}
	anchor := awareAt
	if s.Due.AfterStage != "" {
		if at, ok := filed[s.Due.AfterStage]; ok {
			anchor = at
		} else if due, ok := r.DueAt(s.Due.AfterStage, awareAt, filed); ok {
			anchor = due
		}
	}
	return anchor.Add(s.Due.After).AddDate(0, s.Due.Months, 0), true
}

// Deadline is one dated obligation of a regime.
type Deadline struct {
	Regime RegimeCode `json:"regime"`
	Stage  StageCode  `json:"stage"`
	DueAt  time.Time  `json:"due_at"`
	Filed  bool       `json:"filed"`
}

// Deadlines lists the dated stages of the regime, in due order.
func (r Regime) Deadlines(awareAt time.Time, filed map[StageCode]time.Time) []Deadline {
	var out []Deadline
	for _, s := range r.Stages {
		if due, ok := r.DueAt(s.Code, awareAt, filed); ok {
			_, isFiled := filed[s.Code]
			out = append(out, Deadline{Regime: r.Code, Stage: s.Code, DueAt: due, Filed: isFiled})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
	return out
}

// DefaultReminderOffsets are how long before a deadline reminders go out.
var DefaultReminderOffsets = []time.Duration{48 * time.Hour, 24 * time.Hour, 6 * time.Hour}
