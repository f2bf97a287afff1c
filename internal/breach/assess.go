package breach

import (
	"fmt"
	"strconv"
	"strings"
)

// The risk assessment has two parts.
//
// First the ENISA severity method (Recommendations for a methodology of the
// assessment of severity of personal data breaches, 2013; LEGAL.md "ENISA
// severity method"): SE = DPC x EI + CB, banded low / medium / high / very high.
//
// Then the EDPB factors that sit outside the formula (Guidelines 9/2022 on
// breach notification; LEGAL.md "EDPB guidance"): the number of people, their
// vulnerability, and whether the data was unintelligible to whoever got it.
// They move the outcome up or down one level and decide the Art. 34(3)(a)
// exemption.
//
// Every value of the method is a multiple of 0.25, so the arithmetic is done in
// integer quarters: the band boundaries (exactly 2, 3 and 4) are compared
// exactly, with no floating-point drift. The float64 values in ENISA are exact
// binary fractions converted at the end.
//
// Unknown facts (absent fields) are assumed at their worst, and every
// assumption is written into Reasons, so that the DPO sees what to establish
// to get a finer result.

// LargeScaleSubjects is the number of people from which the volume of a breach
// raises the outcome by one level (EDPB Guidelines 9/2022: "generally, the
// higher the number of individuals affected, the greater the impact").
const LargeScaleSubjects = 100_000

// dpcBase is the ENISA base data-processing-context score of each data type:
// simple 1, behavioural 2, financial 3, sensitive 4. Credentials and minors
// are not data types of their own and are handled in assessDPC.
var dpcBase = map[DataCategory]int{
	// Simple data: identity, contact details, professional life.
	DataIdentification: 1,
	DataContact:        1,
	DataEmployment:     1,
	// Behavioural data: habits, preferences, whereabouts.
	DataBehavioural: 2,
	DataLocation:    2,
	// Financial data.
	DataFinancial: 3,
	// Official identifiers (national ID or social security number, identity
	// documents) are scored at the financial level: their typical harm is
	// identity fraud, whose consequences (credit, benefits, accounts opened in
	// the person's name) are financial. ENISA lets simple data be raised by
	// context when it allows such fraud; scoring them 3 directly makes that
	// adjustment once and for all.
	DataOfficialID: 3,
	// Sensitive data: Art. 9 special categories, health among them.
	DataHealth:          4,
	DataSpecialCategory: 4,
}

var dpcKind = map[int]string{1: "simple", 2: "behavioural", 3: "financial", 4: "sensitive"}

// Risk levels in order, for moving the outcome up and down.
var riskLevels = []Risk{RiskNone, RiskSome, RiskHigh}

// Assess applies the ENISA severity method and the EDPB factors to the facts.
// It is a pure function: the same facts give the same assessment.
func Assess(f Facts) Assessment {
	a := assessor{f: f}
	dpc := a.dpc()
	ei := a.ei()
	cb, onlyConfidentiality := a.cb()

	scoreQ := dpc*ei + cb
	band := bandOfQuarters(scoreQ)
	a.sayf("SE = DPC x EI + CB = %d x %s + %s = %s: band %s (low below 2, medium 2 to below 3, high 3 to below 4, very high 4 and above)",
		dpc, quarters(ei), quarters(cb), quarters(scoreQ), band)

	level := 0 // index in riskLevels
	switch band {
	case BandLow:
		level = 0
		a.sayf("band low: no risk likely for the people; record the breach only (Art. 33(5))")
	case BandMedium:
		level = 1
		a.sayf("band medium: a risk to the people; notify the authority (Art. 33(1))")
	default:
		level = 2
		a.sayf("band %s: a high risk to the people; notify the authority (Art. 33(1)) and tell the people (Art. 34(1))", band)
	}

	// EDPB factors outside the formula. Aggravating factors raise the outcome
	// by one level at most, together: they describe the same breach from two
	// angles and are not meant to stack.
	var aggravating []string
	if a.largeScale() {
		aggravating = append(aggravating, "large scale")
	}
	if a.vulnerable() {
		aggravating = append(aggravating, "vulnerable people")
	}
	if len(aggravating) > 0 {
		if level < 2 {
			a.sayf("EDPB factors (%s) raise the outcome one level: %s -> %s", joinAnd(aggravating), riskLevels[level], riskLevels[level+1])
			level++
		} else {
			a.sayf("EDPB factors (%s): the outcome is already high", joinAnd(aggravating))
		}
	}

	var exemption *Exemption
	if a.unintelligible(onlyConfidentiality) {
		if level == 2 {
			// Art. 34(3)(a): the people need not be told when the data was
			// unintelligible to anyone not authorised to access it.
			e := ExemptionUnintelligible
			exemption = &e
			a.sayf("Art. 34(3)(a) exemption proposed (art34_3_a): the data was unintelligible to whoever accessed it, so the people need not be told")
		}
		if level > 0 {
			a.sayf("data unintelligible (state-of-the-art encryption or salted hashing, key or salt safe): the risk to the people is reduced one level: %s -> %s (EDPB Guidelines 9/2022)", riskLevels[level], riskLevels[level-1])
			level--
		} else {
			a.sayf("data unintelligible: the outcome is already no risk")
		}
	}

	risk := riskLevels[level]
	as := Assessment{
		ENISA: ENISA{
			DPC:   float64(dpc),
			EI:    float64(ei) / 4,
			CB:    float64(cb) / 4,
			Score: float64(scoreQ) / 4,
			Band:  band,
		},
		Risk:      risk,
		NotifySA:  risk != RiskNone,
		Exemption: exemption,
	}
	as.NotifySubjects = risk == RiskHigh && exemption == nil

	switch {
	case risk == RiskNone:
		a.sayf("proposal: no risk likely: record the breach in the register with the reasons for not notifying (Art. 33(5))")
	case risk == RiskSome && exemption != nil:
		a.sayf("proposal: risk: notify the authority (Art. 33(1)); the people need not be told (Art. 34(3)(a))")
	case risk == RiskSome:
		a.sayf("proposal: risk: notify the authority (Art. 33(1)); the people need not be told (no high risk, Art. 34(1))")
	default:
		a.sayf("proposal: high risk: notify the authority (Art. 33(1)) and tell the people without undue delay (Art. 34(1))")
		// Art. 34(3)(b) and (c) depend on what the controller did after the
		// breach and on the effort of reaching the people: facts the engine
		// does not hold, so it never proposes them; the DPO may decide them.
		a.sayf("Art. 34(3)(b) (later measures removed the high risk) and (c) (disproportionate effort, public communication instead) are not proposed from the facts: the DPO decides them with a reason")
	}
	as.Reasons = a.reasons
	return as
}

// bandOfQuarters bands a score given in quarters: low < 2, medium 2 to < 3,
// high 3 to < 4, very high >= 4 (ENISA).
func bandOfQuarters(q int) Band {
	switch {
	case q < 8:
		return BandLow
	case q < 12:
		return BandMedium
	case q < 16:
		return BandHigh
	default:
		return BandVeryHigh
	}
}

// BandOf bands an ENISA score: low < 2, medium 2 to < 3, high 3 to < 4,
// very high >= 4. The score is rounded to two decimals first, so that a value
// carried through float arithmetic (1.9999999) lands on its boundary.
func BandOf(score float64) Band {
	hundredths := int64(score*100 + 0.5)
	if score < 0 {
		hundredths = int64(score*100 - 0.5)
	}
	switch {
	case hundredths < 200:
		return BandLow
	case hundredths < 300:
		return BandMedium
	case hundredths < 400:
		return BandHigh
	default:
		return BandVeryHigh
	}
}

type assessor struct {
	f       Facts
	reasons []string
}

func (a *assessor) sayf(format string, args ...any) {
	a.reasons = append(a.reasons, fmt.Sprintf(format, args...))
}

// dpc is the ENISA data processing context, 1..4.
func (a *assessor) dpc() int {
	cats := a.f.DataCategories
	if len(cats) == 0 {
		a.sayf("data_categories unknown: assumed sensitive data (DPC 4, worst case)")
		return 4
	}
	base, top := 0, DataCategory("")
	var credentials, minors bool
	for _, c := range cats {
		switch c {
		case DataCredentials:
			credentials = true
			continue
		case DataMinors:
			minors = true
			continue
		}
		s, ok := dpcBase[c]
		if !ok {
			a.sayf("data category %q not recognised: assumed sensitive data (4, worst case)", c)
			s = 4
		}
		if s > base {
			base, top = s, c
		}
	}
	switch {
	case base > 0:
		a.sayf("DPC: highest data category %s (%s data, base %d); the highest category present counts (ENISA)", top, dpcKind[base], base)
	case credentials:
		// Nothing but credentials (and perhaps minors): what they open is not said.
		a.sayf("DPC: only credentials among the data: what they give access to is unknown: assumed sensitive data (base 4, worst case)")
		base = 4
	default:
		a.sayf("DPC: only minors among the data categories: the type of data about them is unknown: assumed sensitive data (base 4, worst case)")
		base = 4
	}
	if credentials && top != "" {
		// ENISA: credentials take the category of what they give access to.
		// The accounts they open hold at least the data breached with them.
		a.sayf("credentials take the category of what they give access to (ENISA): assumed the accounts hold the other data breached, so no higher than %s (%d)", top, base)
	}
	dpc := base
	if minors {
		// Data about children makes the context more sensitive (EDPB
		// Guidelines 9/2022, special characteristics of the people; ENISA lets
		// the context adjust the DPC within 1..4): +1, at most 4.
		if dpc < 4 {
			dpc++
			a.sayf("minors: data about children makes the context more sensitive: DPC +1 -> %d", dpc)
		} else {
			a.sayf("minors: data about children makes the context more sensitive: DPC already at its maximum 4")
		}
	}
	return dpc
}

// ei is the ENISA ease of identification, in quarters (1..4).
func (a *assessor) ei() int {
	if a.f.EaseOfIdentification == nil {
		a.sayf("ease_of_identification unknown: assumed maximum (EI 1, worst case)")
		return 4
	}
	e := *a.f.EaseOfIdentification
	var q int
	switch e {
	case EaseNegligible:
		q = 1
	case EaseLimited:
		q = 2
	case EaseSignificant:
		q = 3
	case EaseMaximum:
		q = 4
	default:
		a.sayf("ease_of_identification %q not recognised: assumed maximum (EI 1, worst case)", e)
		return 4
	}
	a.sayf("EI: ease of identification %s (%s)", e, quarters(q))
	return q
}

// cb is the ENISA circumstances of the breach, in quarters (0..8), and whether
// confidentiality is the only loss counted.
func (a *assessor) cb() (int, bool) {
	f := a.f
	conf, integ, avail := false, false, false
	if len(f.BreachTypes) == 0 {
		a.sayf("breach_types unknown: assumed loss of confidentiality, integrity and availability (worst case)")
		conf, integ, avail = true, true, true
	} else {
		for _, t := range f.BreachTypes {
			switch t {
			case Confidentiality:
				conf = true
			case Integrity:
				integ = true
			case Availability:
				avail = true
			default:
				a.sayf("breach type %q not recognised: ignored", t)
			}
		}
	}
	// Facts that show a loss the breach types do not list count anyway.
	if !conf && f.Recipients != nil && *f.Recipients != RecipientsNone {
		a.sayf("recipients is %s although breach_types does not list confidentiality: loss of confidentiality counted", *f.Recipients)
		conf = true
	}
	if !avail && f.AvailabilityLoss != nil && (*f.AvailabilityLoss == AvailabilityTemporary || *f.AvailabilityLoss == AvailabilityPermanent) {
		a.sayf("availability_loss is %s although breach_types does not list availability: loss of availability counted", *f.AvailabilityLoss)
		avail = true
	}

	total := 0
	// Loss of confidentiality: 0 no evidence of disclosure, +0.25 known
	// recipients, +0.5 unknown recipients.
	if conf {
		q := 2
		switch {
		case f.Recipients == nil:
			a.sayf("recipients unknown: assumed unknown recipients (worst case)")
		case *f.Recipients == RecipientsNone:
			q = 0
		case *f.Recipients == RecipientsKnownTrusted:
			q = 1
		case *f.Recipients == RecipientsUnknown:
		default:
			a.sayf("recipients %q not recognised: assumed unknown recipients (worst case)", *f.Recipients)
		}
		a.sayf("CB: loss of confidentiality %s (%s)", plusQuarters(q), map[int]string{0: "no evidence of disclosure", 1: "known recipients", 2: "unknown recipients"}[q])
		total += q
	} else {
		a.sayf("CB: no loss of confidentiality (+0)")
	}

	// Loss of integrity: +0.25 recoverable, +0.5 not recoverable.
	if integ {
		q := 2
		switch {
		case f.IntegrityRecoverable != nil && *f.IntegrityRecoverable:
			q = 1
		case f.IntegrityRecoverable != nil:
		case f.BackupAvailable != nil && *f.BackupAvailable:
			a.sayf("integrity_recoverable unknown: a backup is available, assumed recoverable")
			q = 1
		default:
			a.sayf("integrity_recoverable unknown and no backup known: assumed not recoverable (worst case)")
		}
		a.sayf("CB: loss of integrity %s (%s)", plusQuarters(q), map[int]string{1: "recoverable", 2: "not recoverable"}[q])
		total += q
	} else {
		a.sayf("CB: no loss of integrity (+0)")
	}

	// Loss of availability: +0.25 temporary, +0.5 permanent.
	if avail {
		q := 2
		switch {
		case f.AvailabilityLoss == nil && f.BackupAvailable != nil && *f.BackupAvailable:
			a.sayf("availability_loss unknown: a backup is available, assumed temporary")
			q = 1
		case f.AvailabilityLoss == nil:
			a.sayf("availability_loss unknown and no backup known: assumed permanent (worst case)")
		case *f.AvailabilityLoss == AvailabilityNone:
			q = 0
		case *f.AvailabilityLoss == AvailabilityTemporary:
			q = 1
		case *f.AvailabilityLoss == AvailabilityPermanent:
		default:
			a.sayf("availability_loss %q not recognised: assumed permanent (worst case)", *f.AvailabilityLoss)
		}
		a.sayf("CB: loss of availability %s (%s)", plusQuarters(q), map[int]string{0: "no lasting loss", 1: "temporary", 2: "permanent"}[q])
		total += q
	} else {
		a.sayf("CB: no loss of availability (+0)")
	}

	// Malicious intent: +0.5.
	switch {
	case f.Malicious == nil:
		a.sayf("malicious unknown: assumed malicious (worst case)")
		a.sayf("CB: malicious intent +0.5")
		total += 2
	case *f.Malicious:
		a.sayf("CB: malicious intent +0.5")
		total += 2
	default:
		a.sayf("CB: no malicious intent (+0)")
	}
	a.sayf("CB = %s", quarters(total))
	return total, conf && !integ && !avail
}

// largeScale weighs the number of people (EDPB factor outside the formula).
// Zero people is taken as not yet counted: a personal data breach concerns at
// least one person.
func (a *assessor) largeScale() bool {
	s := a.f.Subjects
	switch {
	case s == nil || *s <= 0:
		a.sayf("subjects unknown: assumed large scale (%d people or more, worst case)", LargeScaleSubjects)
		return true
	case *s >= LargeScaleSubjects:
		a.sayf("volume: %d people, at least %d: large scale", *s, LargeScaleSubjects)
		return true
	default:
		a.sayf("volume: %d people, below the large-scale threshold of %d", *s, LargeScaleSubjects)
		return false
	}
}

// vulnerable weighs the special characteristics of the people (children,
// other vulnerable people: EDPB factor outside the formula).
func (a *assessor) vulnerable() bool {
	v := a.f.VulnerableSubjects
	switch {
	case v == nil:
		a.sayf("vulnerable_subjects unknown: assumed vulnerable people among them (worst case)")
		return true
	case *v:
		a.sayf("vulnerable people among them")
		return true
	default:
		a.sayf("no vulnerable people among them")
		return false
	}
}

// unintelligible says whether unintelligibility reduces the risk: it protects
// against disclosure only, not against alteration or loss (EDPB Guidelines
// 9/2022), so it counts when confidentiality is the only loss.
func (a *assessor) unintelligible(onlyConfidentiality bool) bool {
	u := a.f.DataUnintelligible
	switch {
	case u == nil:
		a.sayf("data_unintelligible unknown: assumed intelligible (worst case)")
		return false
	case !*u:
		a.sayf("data intelligible to whoever accessed it")
		return false
	case !onlyConfidentiality:
		a.sayf("data unintelligible, but the breach also loses integrity or availability, which unintelligibility does not protect against: no reduction")
		return false
	default:
		return true
	}
}

// quarters formats a number of quarters as a decimal: 5 -> "1.25".
func quarters(q int) string {
	return strconv.FormatFloat(float64(q)/4, 'f', -1, 64)
}

func plusQuarters(q int) string { return "+" + quarters(q) }

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
