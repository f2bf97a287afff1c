package breach

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func p[T any](v T) *T { return &v }

// known returns facts with every field known and neutral: simple data (DPC 1),
// maximum ease (EI 1), confidentiality lost to nobody (CB 0), a handful of
// people who are not vulnerable, intelligible data. Tests change what they weigh.
func known() Facts {
	return Facts{
		BreachTypes:          []BreachType{Confidentiality},
		DataCategories:       []DataCategory{DataContact},
		Subjects:             p(int64(10)),
		EaseOfIdentification: p(EaseMaximum),
		Recipients:           p(RecipientsNone),
		IntegrityRecoverable: p(true),
		AvailabilityLoss:     p(AvailabilityNone),
		Malicious:            p(false),
		DataUnintelligible:   p(false),
		VulnerableSubjects:   p(false),
		BackupAvailable:      p(true),
	}
}

func with(mod func(*Facts)) Facts {
	f := known()
	mod(&f)
	return f
}

// motivating is the case the engine was built for: 4.8 million job seekers,
// identity, contact, employment, health metadata and hashed passwords, taken
// by an attacker.
func motivating() Facts {
	return Facts{
		BreachTypes:          []BreachType{Confidentiality},
		DataCategories:       []DataCategory{DataIdentification, DataContact, DataEmployment, DataHealth, DataCredentials},
		Subjects:             p(int64(4_800_000)),
		EaseOfIdentification: p(EaseMaximum),
		Recipients:           p(RecipientsUnknown),
		Malicious:            p(true),
	}
}

func TestMotivatingCase(t *testing.T) {
	a := Assess(motivating())
	want := ENISA{DPC: 4, EI: 1, CB: 1, Score: 5, Band: BandVeryHigh}
	if a.ENISA != want {
		t.Fatalf("ENISA = %+v, want %+v", a.ENISA, want)
	}
	if a.Risk != RiskHigh || !a.NotifySA || !a.NotifySubjects || a.Exemption != nil {
		t.Fatalf("outcome = %s notify_sa=%v notify_subjects=%v exemption=%v, want high, true, true, nil",
			a.Risk, a.NotifySA, a.NotifySubjects, a.Exemption)
	}
	wantReasons(t, a, "highest data category health (sensitive data, base 4)",
		"credentials take the category of what they give access to",
		"volume: 4800000 people",
		"data_unintelligible unknown: assumed intelligible",
		"vulnerable_subjects unknown: assumed",
		"Art. 34(3)(b)")
}

func TestBands(t *testing.T) {
	tests := []struct {
		name  string
		facts Facts
		dpc   float64
		ei    float64
		cb    float64
		score float64
		band  Band
	}{
		{"lowest", with(func(f *Facts) { f.EaseOfIdentification = p(EaseNegligible) }), 1, 0.25, 0, 0.25, BandLow},
		{"1.75 just below medium", with(func(f *Facts) {
			f.BreachTypes = []BreachType{Confidentiality, Integrity}
			f.Recipients = p(RecipientsUnknown) // +0.5
			f.IntegrityRecoverable = p(true)    // +0.25
		}), 1, 1, 0.75, 1.75, BandLow},
		{"exactly 2 is medium", with(func(f *Facts) {
			f.Recipients = p(RecipientsUnknown) // +0.5
			f.Malicious = p(true)               // +0.5
		}), 1, 1, 1, 2, BandMedium},
		{"2.75 just below high", with(func(f *Facts) {
			f.BreachTypes = []BreachType{Confidentiality, Integrity, Availability}
			f.Recipients = p(RecipientsUnknown)           // +0.5
			f.IntegrityRecoverable = p(false)             // +0.5
			f.AvailabilityLoss = p(AvailabilityTemporary) // +0.25
			f.Malicious = p(true)                         // +0.5
		}), 1, 1, 1.75, 2.75, BandMedium},
		{"exactly 3 is high", with(func(f *Facts) {
			f.BreachTypes = []BreachType{Confidentiality, Integrity, Availability}
			f.Recipients = p(RecipientsUnknown)
			f.IntegrityRecoverable = p(false)
			f.AvailabilityLoss = p(AvailabilityPermanent)
			f.Malicious = p(true)
		}), 1, 1, 2, 3, BandHigh},
		{"3 from behavioural data", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataLocation}
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
		}), 2, 1, 1, 3, BandHigh},
		{"3.75 just below very high", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataFinancial}
			f.BreachTypes = []BreachType{Confidentiality, Integrity}
			f.Recipients = p(RecipientsUnknown) // +0.5
			f.IntegrityRecoverable = p(true)    // +0.25
		}), 3, 1, 0.75, 3.75, BandHigh},
		{"exactly 4 is very high", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataFinancial}
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
		}), 3, 1, 1, 4, BandVeryHigh},
		{"4 from sensitive data alone", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
		}), 4, 1, 0, 4, BandVeryHigh},
		{"3.75 from sensitive data and significant ease", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
			f.EaseOfIdentification = p(EaseSignificant) // 4 x 0.75 = 3
			f.BreachTypes = []BreachType{Confidentiality, Availability}
			f.AvailabilityLoss = p(AvailabilityTemporary) // +0.25
			f.Recipients = p(RecipientsUnknown)           // +0.5
		}), 4, 0.75, 0.75, 3.75, BandHigh},
		{"maximum", with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
			f.BreachTypes = BreachTypes
			f.Recipients = p(RecipientsUnknown)
			f.IntegrityRecoverable = p(false)
			f.AvailabilityLoss = p(AvailabilityPermanent)
			f.Malicious = p(true)
		}), 4, 1, 2, 6, BandVeryHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(tt.facts).ENISA
			want := ENISA{DPC: tt.dpc, EI: tt.ei, CB: tt.cb, Score: tt.score, Band: tt.band}
			if got != want {
				t.Errorf("ENISA = %+v, want %+v", got, want)
			}
		})
	}
}

func TestBandOfQuartersBoundaries(t *testing.T) {
	for q, want := range map[int]Band{
		0: BandLow, 7: BandLow, 8: BandMedium, 11: BandMedium, 12: BandHigh,
		15: BandHigh, 16: BandVeryHigh, 24: BandVeryHigh,
	} {
		if got := bandOfQuarters(q); got != want {
			t.Errorf("bandOfQuarters(%d) = %s, want %s", q, got, want)
		}
	}
}

func TestBandOf(t *testing.T) {
	for _, tt := range []struct {
		score float64
		want  Band
	}{
		{0, BandLow}, {1.75, BandLow}, {1.99, BandLow}, {2, BandMedium},
		{1.9999999, BandMedium}, // float drift lands on the boundary
		{2.75, BandMedium}, {2.99, BandMedium}, {3, BandHigh}, {3.75, BandHigh},
		{3.99, BandHigh}, {4, BandVeryHigh}, {0.1 + 0.2 + 3.7, BandVeryHigh}, {6, BandVeryHigh},
	} {
		if got := BandOf(tt.score); got != tt.want {
			t.Errorf("BandOf(%v) = %s, want %s", tt.score, got, tt.want)
		}
	}
}

func TestEaseOfIdentification(t *testing.T) {
	for ease, ei := range map[Ease]float64{
		EaseNegligible: 0.25, EaseLimited: 0.5, EaseSignificant: 0.75, EaseMaximum: 1,
	} {
		f := with(func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
			f.EaseOfIdentification = p(ease)
		})
		got := Assess(f).ENISA
		if got.EI != ei || got.Score != 4*ei {
			t.Errorf("%s: EI = %v, score = %v; want %v, %v", ease, got.EI, got.Score, ei, 4*ei)
		}
	}
}

func TestCircumstancesComponents(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Facts)
		cb   float64
	}{
		{"confidentiality, no recipients", func(f *Facts) {}, 0},
		{"confidentiality, known trusted recipients", func(f *Facts) { f.Recipients = p(RecipientsKnownTrusted) }, 0.25},
		{"confidentiality, unknown recipients", func(f *Facts) { f.Recipients = p(RecipientsUnknown) }, 0.5},
		{"integrity recoverable", func(f *Facts) {
			f.BreachTypes = []BreachType{Integrity}
			f.IntegrityRecoverable = p(true)
		}, 0.25},
		{"integrity not recoverable", func(f *Facts) {
			f.BreachTypes = []BreachType{Integrity}
			f.IntegrityRecoverable = p(false)
		}, 0.5},
		{"availability none", func(f *Facts) { f.BreachTypes = []BreachType{Availability} }, 0},
		{"availability temporary", func(f *Facts) {
			f.BreachTypes = []BreachType{Availability}
			f.AvailabilityLoss = p(AvailabilityTemporary)
		}, 0.25},
		{"availability permanent", func(f *Facts) {
			f.BreachTypes = []BreachType{Availability}
			f.AvailabilityLoss = p(AvailabilityPermanent)
		}, 0.5},
		{"malicious", func(f *Facts) { f.Malicious = p(true) }, 0.5},
		{"integrity ignored when not lost", func(f *Facts) { f.IntegrityRecoverable = p(false) }, 0},
		{"recipients imply a confidentiality loss", func(f *Facts) {
			f.BreachTypes = []BreachType{Integrity}
			f.IntegrityRecoverable = p(true)
			f.Recipients = p(RecipientsKnownTrusted)
		}, 0.5},
		{"availability_loss implies an availability loss", func(f *Facts) {
			f.AvailabilityLoss = p(AvailabilityPermanent)
		}, 0.5},
		{"all of them", func(f *Facts) {
			f.BreachTypes = BreachTypes
			f.Recipients = p(RecipientsUnknown)
			f.IntegrityRecoverable = p(false)
			f.AvailabilityLoss = p(AvailabilityPermanent)
			f.Malicious = p(true)
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(with(tt.mod)).ENISA
			if got.CB != tt.cb || got.Score != 1+tt.cb {
				t.Errorf("CB = %v, score = %v; want %v, %v", got.CB, got.Score, tt.cb, 1+tt.cb)
			}
		})
	}
}

func TestDataProcessingContext(t *testing.T) {
	tests := []struct {
		cats []DataCategory
		dpc  float64
		why  string
	}{
		{[]DataCategory{DataIdentification}, 1, "simple data"},
		{[]DataCategory{DataContact, DataEmployment}, 1, "simple data"},
		{[]DataCategory{DataBehavioural}, 2, "behavioural data"},
		{[]DataCategory{DataLocation, DataContact}, 2, "highest data category location"},
		{[]DataCategory{DataFinancial}, 3, "financial data"},
		{[]DataCategory{DataOfficialID}, 3, "official_id (financial data"},
		{[]DataCategory{DataHealth}, 4, "sensitive data"},
		{[]DataCategory{DataContact, DataSpecialCategory, DataFinancial}, 4, "highest data category special_category"},
		// Credentials take the category of what they give access to.
		{[]DataCategory{DataCredentials, DataContact}, 1, "credentials take the category"},
		{[]DataCategory{DataCredentials, DataFinancial}, 3, "credentials take the category"},
		{[]DataCategory{DataCredentials}, 4, "only credentials"},
		// Minors raise the context by one, within 1..4.
		{[]DataCategory{DataContact, DataMinors}, 2, "minors: data about children"},
		{[]DataCategory{DataFinancial, DataMinors}, 4, "DPC +1 -> 4"},
		{[]DataCategory{DataHealth, DataMinors}, 4, "already at its maximum 4"},
		{[]DataCategory{DataMinors}, 4, "only minors"},
		{[]DataCategory{"telepathy"}, 4, "not recognised"},
		{nil, 4, "data_categories unknown: assumed sensitive"},
	}
	for _, tt := range tests {
		a := Assess(with(func(f *Facts) { f.DataCategories = tt.cats }))
		if a.ENISA.DPC != tt.dpc {
			t.Errorf("%v: DPC = %v, want %v", tt.cats, a.ENISA.DPC, tt.dpc)
		}
		if !containsReason(a, tt.why) {
			t.Errorf("%v: no reason mentions %q in %q", tt.cats, tt.why, a.Reasons)
		}
	}
}

func TestUnknownFieldsAreAssumedAtWorstAndSaid(t *testing.T) {
	a := Assess(Facts{DataCategories: []DataCategory{DataContact}})
	// DPC 1, EI assumed 1, CB assumed all losses 0.5 + 0.5 + 0.5 + malicious 0.5.
	want := ENISA{DPC: 1, EI: 1, CB: 2, Score: 3, Band: BandHigh}
	if a.ENISA != want {
		t.Errorf("ENISA = %+v, want %+v", a.ENISA, want)
	}
	wantReasons(t, a,
		"ease_of_identification unknown: assumed maximum",
		"breach_types unknown: assumed loss of confidentiality, integrity and availability",
		"recipients unknown: assumed unknown recipients",
		"integrity_recoverable unknown and no backup known: assumed not recoverable",
		"availability_loss unknown and no backup known: assumed permanent",
		"malicious unknown: assumed malicious",
		"subjects unknown: assumed large scale",
		"vulnerable_subjects unknown: assumed vulnerable",
		"data_unintelligible unknown: assumed intelligible",
	)

	// A known backup makes the unknown losses recoverable and temporary.
	b := Assess(Facts{DataCategories: []DataCategory{DataContact}, BackupAvailable: p(true)})
	if b.ENISA.CB != 1.5 {
		t.Errorf("with a backup: CB = %v, want 1.5", b.ENISA.CB)
	}
	wantReasons(t, b, "integrity_recoverable unknown: a backup is available, assumed recoverable",
		"availability_loss unknown: a backup is available, assumed temporary")

	// Nothing unknown: nothing assumed.
	for _, r := range Assess(known()).Reasons {
		if strings.Contains(r, "unknown") || strings.Contains(r, "assumed") {
			t.Errorf("all facts known, yet a reason assumes: %q", r)
		}
	}

	// The empty document assumes everything.
	e := Assess(Facts{})
	if e.ENISA.Score != 6 || e.Risk != RiskHigh {
		t.Errorf("all unknown: score %v risk %s, want 6 high", e.ENISA.Score, e.Risk)
	}
	wantReasons(t, e, "data_categories unknown: assumed sensitive data")
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name           string
		mod            func(*Facts)
		risk           Risk
		notifySA       bool
		notifySubjects bool
		exemption      *Exemption
	}{
		{"low band: record only", func(f *Facts) {}, RiskNone, false, false, nil},
		{"medium band: authority", func(f *Facts) {
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
		}, RiskSome, true, false, nil},
		{"high band: authority and people", func(f *Facts) {
			f.DataCategories = []DataCategory{DataLocation}
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
		}, RiskHigh, true, true, nil},
		{"large scale raises low to risk", func(f *Facts) { f.Subjects = p(int64(LargeScaleSubjects)) }, RiskSome, true, false, nil},
		{"just below large scale", func(f *Facts) { f.Subjects = p(int64(LargeScaleSubjects - 1)) }, RiskNone, false, false, nil},
		{"vulnerable people raise medium to high", func(f *Facts) {
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
			f.VulnerableSubjects = p(true)
		}, RiskHigh, true, true, nil},
		{"volume and vulnerability raise one level together", func(f *Facts) {
			f.Subjects = p(int64(5_000_000))
			f.VulnerableSubjects = p(true)
		}, RiskSome, true, false, nil},
		{"unintelligible data: high reduced, people exempt", func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
			f.DataUnintelligible = p(true)
		}, RiskSome, true, false, p(ExemptionUnintelligible)},
		{"unintelligible data: risk reduced to none", func(f *Facts) {
			f.Recipients = p(RecipientsUnknown)
			f.Malicious = p(true)
			f.DataUnintelligible = p(true)
		}, RiskNone, false, false, nil},
		{"unintelligible data does not help against loss of availability", func(f *Facts) {
			f.DataCategories = []DataCategory{DataHealth}
			f.BreachTypes = []BreachType{Confidentiality, Availability}
			f.AvailabilityLoss = p(AvailabilityPermanent)
			f.DataUnintelligible = p(true)
		}, RiskHigh, true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Assess(with(tt.mod))
			if a.Risk != tt.risk || a.NotifySA != tt.notifySA || a.NotifySubjects != tt.notifySubjects ||
				!reflect.DeepEqual(a.Exemption, tt.exemption) {
				t.Errorf("got risk %s notify_sa %v notify_subjects %v exemption %v; want %s %v %v %v\nreasons: %q",
					a.Risk, a.NotifySA, a.NotifySubjects, str(a.Exemption),
					tt.risk, tt.notifySA, tt.notifySubjects, str(tt.exemption), a.Reasons)
			}
		})
	}
}

func TestUnintelligibleMotivatingCaseIsExempt(t *testing.T) {
	f := motivating()
	f.DataUnintelligible = p(true)
	a := Assess(f)
	if a.Exemption == nil || *a.Exemption != ExemptionUnintelligible || a.NotifySubjects || !a.NotifySA {
		t.Fatalf("got exemption %v notify_subjects %v notify_sa %v", str(a.Exemption), a.NotifySubjects, a.NotifySA)
	}
	wantReasons(t, a, "Art. 34(3)(a) exemption proposed (art34_3_a)")
}

func TestAssessIsPureAndJSONShaped(t *testing.T) {
	f := motivating()
	before := motivating()
	a, b := Assess(f), Assess(f)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two assessments of the same facts differ")
	}
	if !reflect.DeepEqual(f, before) {
		t.Fatal("Assess changed its input")
	}
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"enisa", "risk", "notify_sa", "notify_subjects", "exemption", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, out)
		}
	}
	if m["exemption"] != nil {
		t.Errorf("exemption = %v, want null", m["exemption"])
	}
	if !strings.Contains(string(out), `"enisa":{"dpc":4,"ei":1,"cb":1,"score":5,"band":"very_high"}`) {
		t.Errorf("enisa part: %s", out)
	}
}

func wantReasons(t *testing.T, a Assessment, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !containsReason(a, part) {
			t.Errorf("no reason contains %q; reasons:\n%s", part, strings.Join(a.Reasons, "\n"))
		}
	}
}

func containsReason(a Assessment, part string) bool {
	for _, r := range a.Reasons {
		if strings.Contains(r, part) {
			return true
		}
	}
	return false
}

func str(e *Exemption) string {
	if e == nil {
		return "nil"
	}
	return string(*e)
}
