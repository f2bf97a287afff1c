package templates

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris everywhere, even without system zone files

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// paris is where dossier times are shown (DESIGN.md: stored in UTC, shown in
// Europe/Paris).
var paris = mustLoad("Europe/Paris")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("templates: time zone %s: %v (time/tzdata is linked in)", name, err))
	}
	return loc
}

// DossierRecord is a regulator dossier as structured data: exactly what the
// HTML shows, in the draft's language, codes next to their labels and times in
// UTC next to their Paris display. The HTML components are pure functions of
// it, and DossierJSON exports it.
type DossierRecord struct {
	Language     breach.Language `json:"language"`
	Title        string          `json:"title"`
	Regime       Coded           `json:"regime"` // label: the article, "article 33 du RGPD"
	Authority    string          `json:"authority"`
	Filing       FilingKind      `json:"filing"`
	IncidentID   string          `json:"incident_id"`
	Reference    string          `json:"reference,omitempty"`
	DraftVersion int             `json:"draft_version"`
	Notice       string          `json:"notice"`

	Organisation Organisation `json:"organisation"`
	DPO          Person       `json:"dpo"`            // Art. 33(3)(b)
	Contact      Person       `json:"contact_person"` // CNIL: defaults to the DPO
	ContactIsDPO bool         `json:"contact_is_dpo"`

	Timeline     Timeline `json:"timeline"`
	Nature       Nature   `json:"nature"`       // Art. 33(3)(a)
	Scope        Scope    `json:"scope"`        // Art. 33(3)(a)
	Consequences string   `json:"consequences"` // Art. 33(3)(c)
	Measures     Measures `json:"measures"`     // Art. 33(3)(d)

	Risk    *RiskRecord    `json:"risk"` // nil: not assessed yet
	Filings []FilingRecord `json:"earlier_filings"`

	l *labels
}

// Coded is a code and its label in the dossier's language.
type Coded struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// Instant is a time in UTC and as shown (Europe/Paris).
type Instant struct {
	At      time.Time `json:"at"`
	Display string    `json:"display"`
}

// FilingKind says which filing the dossier is: initial, complementary (and its
// number), withdrawal, or a NIS2 stage; and which earlier filing it completes.
type FilingKind struct {
	Stage       Coded         `json:"stage"`
	Seq         int           `json:"seq,omitempty"` // complementary number, 1..
	Label       string        `json:"label"`
	Complements *FilingRecord `json:"complements,omitempty"`
	Notes       string        `json:"notes,omitempty"` // what is new (Art. 33(4))
}

// Organisation is the controller as the CNIL form asks for it.
type Organisation struct {
	Name                string `json:"name"`
	SIREN               string `json:"siren"`
	SIRENDisplay        string `json:"siren_display"`
	LegalRepresentative string `json:"legal_representative"`
}

// Person is someone to reach.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

// Timeline is the dates of the incident and the regime's deadlines.
type Timeline struct {
	OccurredAt    *Instant         `json:"occurred_at"` // nil: not known
	DetectedAt    Instant          `json:"detected_at"`
	AwareAt       Instant          `json:"aware_at"` // starts the Art. 33(1) clock
	AwareAtReason string           `json:"aware_at_reason,omitempty"`
	Deadlines     []DeadlineRecord `json:"deadlines"`
	Narrative     string           `json:"narrative,omitempty"`
	DelayReasons  string           `json:"delay_reasons,omitempty"` // Art. 33(1)
}

// DeadlineRecord is one dated stage of the regime.
type DeadlineRecord struct {
	Stage   Coded   `json:"stage"`
	Due     Instant `json:"due"`
	Filed   bool    `json:"filed"`
	Current bool    `json:"current"` // the stage of this dossier
}

// Nature is what happened (Art. 33(3)(a), Art. 4(12)).
type Nature struct {
	Title        string  `json:"title"`
	Summary      string  `json:"summary"` // the drafter's plain-words nature
	Description  string  `json:"description,omitempty"`
	Discovery    string  `json:"discovery,omitempty"`
	BreachTypes  []Coded `json:"breach_types"`
	Cause        Coded   `json:"cause"`
	Ongoing      bool    `json:"ongoing"`
	OngoingLabel string  `json:"ongoing_label"`
}

// Scope is the data and the people concerned (Art. 33(3)(a)).
type Scope struct {
	DataCategories    []Coded `json:"data_categories"`
	SubjectCategories []Coded `json:"subject_categories"`
	Subjects          Count   `json:"subjects"`
	Records           Count   `json:"records"`
}

// Count is an approximate number; zero means not known yet.
type Count struct {
	Value   int64  `json:"value"`
	Known   bool   `json:"known"`
	Display string `json:"display"`
}

// Measures are what was done and what is proposed (Art. 33(3)(d)).
type Measures struct {
	Taken    string `json:"taken"`
	Proposed string `json:"proposed,omitempty"`
}

// RiskRecord is the engine's proposal and the DPO's decision, both kept.
type RiskRecord struct {
	Proposed          Coded        `json:"proposed"`
	ENISA             breach.ENISA `json:"enisa"`
	BandLabel         string       `json:"band_label"`
	Formula           string       `json:"formula"` // "SE = DPC × EI + CB = 4 × 1 + 1 = 5"
	NotifySA          bool         `json:"notify_sa"`
	NotifySubjects    bool         `json:"notify_subjects"`
	ProposedExemption *Coded       `json:"proposed_exemption"`
	Reasons           []string     `json:"reasons"`

	Decided        Coded   `json:"decided"`
	Exemption      *Coded  `json:"exemption"`
	DecidedNotifSA bool    `json:"decided_notify_sa"`
	DecidedNotifPP bool    `json:"decided_notify_subjects"`
	Overridden     bool    `json:"overridden"`
	Reason         string  `json:"reason"`
	DecidedAt      Instant `json:"decided_at"`
}

// FilingRecord is a filing already made.
type FilingRecord struct {
	Regime    Coded   `json:"regime"`
	Authority string  `json:"authority"`
	Stage     Coded   `json:"stage"`
	Seq       int     `json:"seq,omitempty"`
	Label     string  `json:"label"`
	FiledAt   Instant `json:"filed_at"`
	Channel   Coded   `json:"channel"`
	Reference string  `json:"reference"`
	Late      bool    `json:"late"`
}

// NewDossierRecord builds the dossier's view model from its input. It is pure:
// no clock, no I/O; the same input gives the same record. It fails on an
// unknown language or regime.
func NewDossierRecord(in activities.DossierInput) (DossierRecord, error) {
	l, ok := labelsFor(in.Fields.Language)
	if !ok {
		return DossierRecord{}, breach.Invalid("language", "unknown value; expected fr or en")
	}
	regime, ok := breach.Regimes[in.Key.Regime]
	if !ok {
		return DossierRecord{}, breach.Invalid("key.regime", "unknown regime")
	}
	if _, ok := regime.Stage(in.Key.Stage); !ok {
		return DossierRecord{}, breach.Invalid("key.stage", "not a stage of the regime")
	}
	inc := in.Incident
	f := in.Fields

	r := DossierRecord{
		Language:     l.lang,
		Title:        label(l.titleByRegime, regime.Code),
		Regime:       Coded{Code: string(regime.Code), Label: label(l.articleByRegime, regime.Code)},
		Authority:    regime.Authority,
		IncidentID:   inc.ID,
		Reference:    inc.Reference,
		DraftVersion: in.Version,
		Notice:       label(l.regimeNotice, regime.Code),
		Organisation: Organisation{
			Name:                inc.Controller.Name,
			SIREN:               inc.Controller.SIREN,
			SIRENDisplay:        groupSIREN(inc.Controller.SIREN),
			LegalRepresentative: inc.Controller.LegalRepresentative,
		},
		DPO:          person(inc.Controller.DPO),
		Consequences: f.Consequences,
		Measures:     Measures{Taken: f.MeasuresTaken, Proposed: f.MeasuresProposed},
		l:            l,
	}
	if f.ContactPerson != nil {
		r.Contact = person(*f.ContactPerson)
	} else {
		r.Contact, r.ContactIsDPO = r.DPO, true
	}

	// Earlier filings, oldest first; the first filing of each stage of this
	// regime anchors the deadlines that depend on it.
	filings := append([]breach.Filing(nil), in.Filings...)
	sort.SliceStable(filings, func(i, j int) bool {
		if !filings[i].FiledAt.Equal(filings[j].FiledAt) {
			return filings[i].FiledAt.Before(filings[j].FiledAt)
		}
		return filings[i].ID < filings[j].ID
	})
	filedAt := map[breach.StageCode]time.Time{}
	firstOf := map[breach.StageCode]FilingRecord{}
	for _, fl := range filings {
		rec := filingRecord(fl, l)
		r.Filings = append(r.Filings, rec)
		if fl.Key.Regime == regime.Code {
			if _, seen := filedAt[fl.Key.Stage]; !seen {
				filedAt[fl.Key.Stage] = fl.FiledAt
				firstOf[fl.Key.Stage] = rec
			}
		}
	}
	if r.Filings == nil {
		r.Filings = []FilingRecord{}
	}

	// Which filing this is (Art. 33(4): initial, complementary, withdrawal).
	stage, _ := regime.Stage(in.Key.Stage)
	r.Filing = FilingKind{
		Stage: Coded{Code: string(stage.Code), Label: label(l.stages, stage.Code)},
		Label: stageLabel(stage.Code, in.Key.Seq, l),
		Notes: f.Notes,
	}
	if stage.Repeatable {
		r.Filing.Seq = in.Key.Seq
	}
	if stage.Requires != "" {
		if rec, ok := firstOf[stage.Requires]; ok {
			r.Filing.Complements = &rec
		}
	}

	// Timeline.
	if inc.OccurredAt != nil {
		at := instant(*inc.OccurredAt, l)
		r.Timeline.OccurredAt = &at
	}
	r.Timeline.DetectedAt = instant(inc.DetectedAt, l)
	r.Timeline.AwareAt = instant(inc.AwareAt, l)
	r.Timeline.AwareAtReason = inc.AwareAtReason
	r.Timeline.Narrative = f.Timeline
	r.Timeline.DelayReasons = f.DelayReasons
	r.Timeline.Deadlines = []DeadlineRecord{}
	for _, d := range regime.Deadlines(inc.AwareAt, filedAt) {
		r.Timeline.Deadlines = append(r.Timeline.Deadlines, DeadlineRecord{
			Stage:   Coded{Code: string(d.Stage), Label: label(l.stages, d.Stage)},
			Due:     instant(d.DueAt, l),
			Filed:   d.Filed,
			Current: d.Stage == stage.Code,
		})
	}

	// Nature (Art. 33(3)(a)).
	r.Nature = Nature{
		Title:       inc.Title,
		Summary:     f.Nature,
		Description: inc.Description,
		Discovery:   inc.Discovery,
		BreachTypes: coded(inc.BreachTypes, l.breachTypeNames),
		Cause:       Coded{Code: string(inc.Cause), Label: label(l.causeNames, inc.Cause)},
		Ongoing:     inc.Ongoing,
	}
	r.Nature.OngoingLabel = l.ongoingNo
	if inc.Ongoing {
		r.Nature.OngoingLabel = l.ongoingYes
	}

	// Scope (Art. 33(3)(a)): categories in the order the domain lists them.
	r.Scope = Scope{
		DataCategories:    coded(ordered(inc.DataCategories, breach.DataCategories), l.dataCategoryName),
		SubjectCategories: coded(ordered(inc.SubjectCategories, breach.SubjectCategories), l.subjectNames),
		Subjects:          count(inc.ApproxSubjects, l),
		Records:           count(inc.ApproxRecords, l),
	}

	if a := in.Assessment; a != nil {
		r.Risk = riskRecord(*a, l)
	}
	return r, nil
}

// DossierJSON exports the dossier as JSON: the same record the HTML shows.
func DossierJSON(in activities.DossierInput) ([]byte, error) {
	r, err := NewDossierRecord(in)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode dossier: %w", err)
	}
	return []byte(b.String()), nil
}

func riskRecord(a breach.AssessmentRecord, l *labels) *RiskRecord {
	p := a.Proposed
	rr := &RiskRecord{
		Proposed:       Coded{Code: string(p.Risk), Label: label(l.riskNames, p.Risk)},
		ENISA:          p.ENISA,
		BandLabel:      label(l.bandNames, p.ENISA.Band),
		Formula:        formula(p.ENISA, l),
		NotifySA:       p.NotifySA,
		NotifySubjects: p.NotifySubjects,
		Reasons:        append([]string{}, p.Reasons...),
		Decided:        Coded{Code: string(a.Decided), Label: label(l.riskNames, a.Decided)},
		DecidedNotifSA: a.NotifySA(),
		DecidedNotifPP: a.NotifySubjects(),
		Overridden:     a.Overridden,
		Reason:         a.Reason,
		DecidedAt:      instant(a.DecidedAt, l),
	}
	if p.Exemption != nil {
		rr.ProposedExemption = &Coded{Code: string(*p.Exemption), Label: label(l.exemptionNames, *p.Exemption)}
	}
	if a.Exemption != nil {
		rr.Exemption = &Coded{Code: string(*a.Exemption), Label: label(l.exemptionNames, *a.Exemption)}
	}
	return rr
}

func filingRecord(fl breach.Filing, l *labels) FilingRecord {
	rec := FilingRecord{
		Regime:    Coded{Code: string(fl.Key.Regime), Label: label(l.articleByRegime, fl.Key.Regime)},
		Authority: breach.Regimes[fl.Key.Regime].Authority,
		Stage:     Coded{Code: string(fl.Key.Stage), Label: label(l.stages, fl.Key.Stage)},
		Label:     stageLabel(fl.Key.Stage, fl.Key.Seq, l),
		FiledAt:   instant(fl.FiledAt, l),
		Channel:   Coded{Code: fl.Channel, Label: label(l.channelNames, fl.Channel)},
		Reference: fl.Reference,
		Late:      fl.Late,
	}
	if rec.Authority == "" {
		rec.Authority = string(fl.Key.Regime)
	}
	if s, ok := breach.Regimes[fl.Key.Regime].Stage(fl.Key.Stage); ok && s.Repeatable {
		rec.Seq = fl.Key.Seq
	}
	return rec
}

func stageLabel(stage breach.StageCode, seq int, l *labels) string {
	if stage == breach.StageComplementary && seq > 0 {
		return fmt.Sprintf(l.complementaryNo, seq)
	}
	return label(l.stages, stage)
}

func person(c breach.Contact) Person { return Person{Name: c.Name, Email: c.Email, Phone: c.Phone} }

func coded[K ~string](codes []K, names map[K]string) []Coded {
	out := make([]Coded, 0, len(codes))
	for _, c := range codes {
		out = append(out, Coded{Code: string(c), Label: label(names, c)})
	}
	return out
}

// ordered returns the values in the order of known, unknown values last in
// their given order, without duplicates.
func ordered[K comparable](values, known []K) []K {
	rank := make(map[K]int, len(known))
	for i, k := range known {
		rank[k] = i
	}
	seen := map[K]bool{}
	var out []K
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		switch {
		case oki && okj:
			return ri < rj
		default:
			return oki && !okj
		}
	})
	return out
}

// instant shows a time in Paris: "25/11/2026 à 09:30 (heure de Paris)",
// "25 November 2026 at 09:30 (Paris time)".
func instant(t time.Time, l *labels) Instant {
	if t.IsZero() {
		return Instant{Display: l.notProvided}
	}
	p := t.In(paris)
	var s string
	if l.lang == breach.French {
		s = fmt.Sprintf("%02d/%02d/%04d à %02d:%02d (heure de Paris)", p.Day(), int(p.Month()), p.Year(), p.Hour(), p.Minute())
	} else {
		s = fmt.Sprintf("%d %s %d at %02d:%02d (Paris time)", p.Day(), p.Month(), p.Year(), p.Hour(), p.Minute())
	}
	return Instant{At: t.UTC(), Display: s}
}

// count shows an approximate number: "4 800 000" in French (no-break
// spaces), "4,800,000" in English; zero is not known yet (Art. 33(4)).
func count(n int64, l *labels) Count {
	if n <= 0 {
		return Count{Display: l.notKnownYet}
	}
	sep := ","
	if l.lang == breach.French {
		sep = "\u00a0"
	}
	return Count{Value: n, Known: true, Display: group(strconv.FormatInt(n, 10), sep)}
}

func group(digits, sep string) string {
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// groupSIREN shows a SIREN as the INSEE does: "123 456 782".
func groupSIREN(s string) string {
	if len(s) != 9 {
		return s
	}
	return s[0:3] + "\u00a0" + s[3:6] + "\u00a0" + s[6:9]
}

// decimal shows a quarter-valued number: "0,75" in French, "0.75" in English.
func decimal(v float64, l *labels) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if l.lang == breach.French {
		s = strings.ReplaceAll(s, ".", ",")
	}
	return s
}

func formula(e breach.ENISA, l *labels) string {
	return fmt.Sprintf("SE = DPC × EI + CB = %s × %s + %s = %s",
		decimal(e.DPC, l), decimal(e.EI, l), decimal(e.CB, l), decimal(e.Score, l))
}

// yesNo is the word for a boolean.
func (r DossierRecord) yesNo(b bool) string {
	if b {
		return r.l.yes
	}
	return r.l.no
}

// orNotProvided shows s, or says it was not provided.
func (r DossierRecord) orNotProvided(s string) string {
	if strings.TrimSpace(s) == "" {
		return r.l.notProvided
	}
	return s
}
