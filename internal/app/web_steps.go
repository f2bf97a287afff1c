package app

import (
	"slices"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// StepKind is something an incident waits for, or something a person may do
// on it now.
type StepKind string

const (
	StepAssess    StepKind = "assess"     // DPO: confirm or override the proposed risk
	StepDraft     StepKind = "draft"      // DPO or approver: write a stage's first version
	StepEditDraft StepKind = "edit_draft" // DPO or approver: write a new version of the current draft
	StepRevise    StepKind = "revise"     // DPO: a version was sent back; write a new one
	StepDecide    StepKind = "decide"     // approver (not an author): approve or send back
	StepFile      StepKind = "file"       // DPO: record the filing of the approved version
	StepClose     StepKind = "close"      // DPO: close the incident
)

// Step is one step of an incident: who it waits for and what, with the draft
// it is about.
type Step struct {
	Role    breach.Role     `json:"role"`
	Kind    StepKind        `json:"kind"`
	Key     breach.DraftKey `json:"key,omitzero"`
	DraftID string          `json:"draft_id,omitempty"`
	Version int             `json:"version,omitempty"`
	// Authors wrote the version to decide on (first author and last editor):
	// neither may decide on it (four-eyes).
	Authors []string `json:"authors,omitempty"`
	// Optional steps are offered to people but nobody is waiting for them.
	Optional bool `json:"optional,omitempty"`
}

// IncidentState is what the steps of an incident are computed from: its
// state, its regimes, the outcome of its current assessment, and its drafts
// and filings. Drafts may hold every version or only the current one of each.
type IncidentState struct {
	State    breach.IncidentState
	Regimes  []breach.RegimeCode
	Assessed bool
	Decided  breach.Risk
	Drafts   []breach.DraftVersion
	Filings  []breach.Filing
}

// currentDrafts keeps the highest version of each draft key, in key order
// (regime, stage, seq). An incident has a handful of drafts: slices, no maps.
func currentDrafts(ds []breach.DraftVersion) []breach.DraftVersion {
	if len(ds) <= 1 {
		return ds
	}
	out := make([]breach.DraftVersion, 0, len(ds))
	for _, d := range ds {
		i := slices.IndexFunc(out, func(o breach.DraftVersion) bool { return o.Key == d.Key })
		switch {
		case i < 0:
			out = append(out, d)
		case d.Version > out[i].Version:
			out[i] = d
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b breach.DraftVersion) int { return a.Key.Seq - b.Key.Seq })
	}
	return out
}

func filedKey(fs []breach.Filing, k breach.DraftKey) bool {
	for _, f := range fs {
		if f.Key == k {
			return true
		}
	}
	return false
}

func filedStage(fs []breach.Filing, r breach.RegimeCode, s breach.StageCode) bool {
	for _, f := range fs {
		if f.Key.Regime == r && f.Key.Stage == s {
			return true
		}
	}
	return false
}

// Steps lists, in the order they come, what the incident waits for (Optional
// false) and what else may be done on it now (Optional true). The rules are
// those the workflows enforce; the workflows stay the judges.
func Steps(st IncidentState) []Step { return steps(st, true) }

// steps lists the steps, leaving out the optional ones unless asked.
func steps(st IncidentState, optional bool) []Step {
	if st.State == breach.StateClosed {
		return nil
	}
	if !st.Assessed {
		if !optional {
			return []Step{{Role: breach.RoleDPO, Kind: StepAssess}}
		}
		return []Step{{Role: breach.RoleDPO, Kind: StepAssess}, {Role: breach.RoleDPO, Kind: StepClose, Optional: true}}
	}
	out := make([]Step, 0, 4)
	current := currentDrafts(st.Drafts)
	waiting := false
	for ri := -1; ri < len(st.Regimes); ri++ {
		code := breach.RegimeGDPR // GDPR first, always; then the others once each
		if ri >= 0 {
			code = st.Regimes[ri]
			if code == breach.RegimeGDPR || slices.Index(st.Regimes, code) < ri {
				continue
			}
		}
		regime, known := breach.Regimes[code]
		if !known {
			continue
		}
		// No risk likely: the authority is not notified under the GDPR, the
		// incident is only registered (Art. 33(1), 33(5)).
		notify := code != breach.RegimeGDPR || st.Decided != breach.RiskNone
		for _, stage := range regime.Stages {
			if stage.Requires != "" && !filedStage(st.Filings, code, stage.Requires) {
				continue
			}
			drafts, open := 0, false // drafts of this stage; one not yet filed
			for _, d := range current {
				if d.Key.Regime != code || d.Key.Stage != stage.Code {
					continue
				}
				drafts++
				if d.State == breach.DraftFiled || filedKey(st.Filings, d.Key) {
					continue
				}
				open = true
				edit := Step{Role: breach.RoleDPO, Kind: StepEditDraft, Key: d.Key, DraftID: d.ID, Version: d.Version, Optional: true}
				switch d.State {
				case breach.DraftPending:
					out = append(out, Step{Role: breach.RoleApprover, Kind: StepDecide, Key: d.Key, DraftID: d.ID, Version: d.Version,
						Authors: authors(d)})
					waiting = true
				case breach.DraftReturned:
					out = append(out, Step{Role: breach.RoleDPO, Kind: StepRevise, Key: d.Key, DraftID: d.ID, Version: d.Version})
					edit.Role = breach.RoleApprover
					waiting = true
				case breach.DraftApproved:
					out = append(out, Step{Role: breach.RoleDPO, Kind: StepFile, Key: d.Key, DraftID: d.ID, Version: d.Version})
					waiting = true
				}
				if optional {
					out = append(out, edit)
				}
			}
			if open || (drafts > 0 && !stage.Repeatable) || !notify {
				continue
			}
			// A stage with a deadline is awaited; the others (complementary
			// filings, a withdrawal) are there when needed.
			key := breach.DraftKey{Regime: code, Stage: stage.Code}
			if !stage.Repeatable {
				key.Seq = 1
			}
			if stage.Due != nil {
				waiting = true
			} else if !optional {
				continue
			}
			out = append(out, Step{Role: breach.RoleDPO, Kind: StepDraft, Key: key, Optional: stage.Due == nil})
		}
	}
	if optional {
		out = append(out, Step{Role: breach.RoleDPO, Kind: StepAssess, Optional: true})
	}
	// Once nothing else is awaited, closing is what is left to do.
	if optional || !waiting {
		out = append(out, Step{Role: breach.RoleDPO, Kind: StepClose, Optional: waiting})
	}
	return out
}

func authors(d breach.DraftVersion) []string {
	if d.EditedBy != "" && d.EditedBy != d.DraftedBy {
		return []string{d.DraftedBy, d.EditedBy}
	}
	return []string{d.DraftedBy}
}

// Waiting is what the incident waits for, and from whom.
func Waiting(st IncidentState) []Step { return steps(st, false) }

// Actions is what actor may do on the incident now, and only that: the steps
// of the actor's role, drafting open to DPOs and approvers alike, and no
// decision on a version the actor wrote or edited.
func Actions(actor breach.Actor, st IncidentState) []Step {
	var out []Step
	for _, s := range Steps(st) {
		switch s.Kind {
		case StepDraft, StepEditDraft, StepRevise:
			if actor.Role != breach.RoleDPO && actor.Role != breach.RoleApprover {
				continue
			}
			if s.Kind == StepRevise && actor.Role == breach.RoleApprover {
				continue // offered to approvers as StepEditDraft
			}
			if s.Kind == StepEditDraft && s.Role == breach.RoleApprover && actor.Role == breach.RoleDPO {
				continue // offered to the DPO as StepRevise
			}
		case StepDecide:
			if actor.Role != breach.RoleApprover || slices.Contains(s.Authors, actor.UserID) {
				continue
			}
		default:
			if s.Role != actor.Role {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// MayDecide reports whether actor may approve or send back the version d now.
func MayDecide(actor breach.Actor, st IncidentState, d breach.DraftVersion) bool {
	for _, s := range Actions(actor, st) {
		if s.Kind == StepDecide && s.DraftID == d.ID {
			return true
		}
	}
	return false
}

// StateOf gathers the step inputs from an incident view.
func StateOf(v IncidentView) IncidentState {
	st := IncidentState{State: v.Incident.State, Regimes: v.Incident.Regimes, Drafts: v.Drafts, Filings: v.Filings}
	if n := len(v.Assessments); n > 0 {
		st.Assessed, st.Decided = true, v.Assessments[n-1].Decided
	}
	return st
}

// NextDeadline is the earliest deadline not yet filed, among those that apply:
// none once closed, and no GDPR deadline when no risk was found. It computes
// what Deadlines does, without building the list: the register asks it of
// every incident.
func NextDeadline(st IncidentState, awareAt time.Time) (breach.Deadline, bool) {
	if st.State == breach.StateClosed {
		return breach.Deadline{}, false
	}
	var best breach.Deadline
	found := false
	for ri := -1; ri < len(st.Regimes); ri++ {
		code := breach.RegimeGDPR
		if ri >= 0 {
			code = st.Regimes[ri]
			if code == breach.RegimeGDPR || slices.Index(st.Regimes, code) < ri {
				continue
			}
		}
		if code == breach.RegimeGDPR && st.Assessed && st.Decided == breach.RiskNone {
			continue
		}
		regime, known := breach.Regimes[code]
		if !known {
			continue
		}
		var filed map[breach.StageCode]time.Time // only for deadlines anchored on a filing
		for _, s := range regime.Stages {
			if s.Due == nil || filedStage(st.Filings, code, s.Code) {
				continue
			}
			if s.Due.AfterStage != "" && filed == nil {
				filed = map[breach.StageCode]time.Time{}
				for _, f := range st.Filings {
					if at, ok := filed[f.Key.Stage]; f.Key.Regime == code && (!ok || f.FiledAt.Before(at)) {
						filed[f.Key.Stage] = f.FiledAt
					}
				}
			}
			due, ok := regime.DueAt(s.Code, awareAt, filed)
			if ok && (!found || due.Before(best.DueAt)) {
				best, found = breach.Deadline{Regime: code, Stage: s.Code, DueAt: due}, true
			}
		}
	}
	return best, found
}
