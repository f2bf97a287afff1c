package templates

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// The monitoring report to the DPO (DESIGN.md track 5): weekly during the
// monitoring period and once more, marked final, at its end. An HTML email
// from templ (report.templ), a pure function of a ReportView built from the
// stored breach.ReportSummary: counts, dates and stages, no personal data.
// The same summary renders the same bytes, whose sha256 is kept with it.

// ReportView is the report as the DPO reads it.
type ReportView struct {
	Language   breach.Language
	Subject    string
	Title      string
	Incident   string // reference and title
	Period     string
	Monitoring string
	EndedEarly string // final report of a period closed early; empty otherwise

	DeliveriesHead string
	DeliveryCols   []string
	Deliveries     []ReportRow

	ResetsHead string
	Resets     []ReportPair

	SignalsHead string
	SignalCols  []string
	Signals     []ReportRow

	AlertsHead string
	NoAlerts   string
	Alerts     []string

	DeadlinesHead string
	NoDeadlines   string
	Deadlines     []string

	Footer string
}

// ReportRow is a labelled row of numbers.
type ReportRow struct {
	Label  string
	Values []string
}

// ReportPair is a label and its value.
type ReportPair struct {
	Label string
	Value string
}

type reportLabels struct {
	weekly, final                  string // %d: the report's number
	subject                        string // %s: the title, %s: the incident reference
	period, monitoring, endedEarly string
	deliveriesHead                 string
	deliveryCols                   []string
	notice, reminder               string // reminder: %d the round
	resetsHead                     string
	accounts, done, failed, inProg string
	completed                      string // %s: the percentage
	signalsHead                    string
	signalCols                     []string
	kinds                          map[breach.SignalKind]string
	alertsHead, noAlerts           string
	alertThreshold                 string // %s kind, %d observed, %d threshold, %s window
	alertLetter                    string // %s detail
	wholePeriod                    string
	draftOpened, draftNot          string
	deadlinesHead, noDeadlines     string
	deadline, overdue              string
	footer                         string
	dateFormat                     string
}

var reportFR = reportLabels{
	weekly: "Rapport de suivi n°\u00a0%d", final: "Rapport de suivi final (n°\u00a0%d)",
	subject: "%s — incident %s", period: "Période du rapport\u00a0: du %s au %s.",
	monitoring:     "Période de surveillance\u00a0: du %s au %s.",
	endedEarly:     "La surveillance a pris fin avant son terme, à la clôture de l'incident.",
	deliveriesHead: "Envois aux personnes", deliveryCols: []string{"Envoi", "En attente", "En cours", "Envoyés", "Échecs", "Incertains"},
	notice: "Notification (art. 34)", reminder: "Rappel %d",
	resetsHead: "Réinitialisations de mot de passe", accounts: "Comptes concernés", done: "Réinitialisations imposées",
	failed: "Échecs auprès du fournisseur d'identité", inProg: "En attente ou en cours", completed: "Réinitialisations faites par les personnes",
	signalsHead: "Signaux d'abus", signalCols: []string{"Type", "Sur la période", "Depuis le début", "Comptes cités"},
	kinds: map[breach.SignalKind]string{
		breach.SignalAccountTakeover: "Prises de contrôle de compte", breach.SignalSuspiciousLogin: "Connexions suspectes",
		breach.SignalPhishingReport: "Signalements d'hameçonnage", breach.SignalDarkWebMention: "Mentions sur le dark web",
	},
	alertsHead: "Alertes de la période", noAlerts: "Aucune alerte sur la période.",
	alertThreshold: "%s\u00a0: %d signalés (seuil %d), %s.", alertLetter: "Rappel %s dû sans courrier de rappel approuvé.",
	wholePeriod: "sur toute la surveillance", draftOpened: " Notification complémentaire (art. 33(4)) ouverte, n°\u00a0%d.",
	draftNot:      " Notification complémentaire non ouverte\u00a0: %s",
	deadlinesHead: "Échéances ouvertes", noDeadlines: "Aucune échéance ouverte.",
	deadline: "%s, %s\u00a0: le %s", overdue: " (dépassée)",
	footer:     "Rapport établi par le moteur de notification à partir des compteurs\u00a0; il ne contient aucune donnée personnelle.",
	dateFormat: "02/01/2006 15:04 MST",
}

var reportEN = reportLabels{
	weekly: "Monitoring report no. %d", final: "Final monitoring report (no. %d)",
	subject: "%s — incident %s", period: "Report period: %s to %s.",
	monitoring:     "Monitoring period: %s to %s.",
	endedEarly:     "Monitoring ended before its term, when the incident was closed.",
	deliveriesHead: "Letters to the people", deliveryCols: []string{"Send", "Pending", "Sending", "Sent", "Failed", "Unknown"},
	notice: "Notice (Art. 34)", reminder: "Reminder %d",
	resetsHead: "Password resets", accounts: "Accounts concerned", done: "Resets forced",
	failed: "Failures at the identity provider", inProg: "Pending or in progress", completed: "Resets completed by the people",
	signalsHead: "Abuse signals", signalCols: []string{"Kind", "In the period", "Since the start", "Accounts named"},
	kinds: map[breach.SignalKind]string{
		breach.SignalAccountTakeover: "Account takeovers", breach.SignalSuspiciousLogin: "Suspicious logins",
		breach.SignalPhishingReport: "Phishing reports", breach.SignalDarkWebMention: "Dark web mentions",
	},
	alertsHead: "Alerts in the period", noAlerts: "No alert in the period.",
	alertThreshold: "%s: %d reported (threshold %d), %s.", alertLetter: "Reminder %s due without an approved reminder letter.",
	wholePeriod: "over the whole monitoring", draftOpened: " Complementary notification (Art. 33(4)) opened, no. %d.",
	draftNot:      " Complementary notification not opened: %s",
	deadlinesHead: "Open deadlines", noDeadlines: "No open deadline.",
	deadline: "%s, %s: %s", overdue: " (overdue)",
	footer:     "Report made by the notification engine from its counters; it holds no personal data.",
	dateFormat: "2006-01-02 15:04 MST",
}

// NewReportView builds the report's view model from the summary; pure.
func NewReportView(s breach.ReportSummary) ReportView {
	l := &reportFR
	if s.Language == breach.English {
		l = &reportEN
	}
	date := func(t time.Time) string { return t.In(paris).Format(l.dateFormat) }
	title := fmt.Sprintf(l.weekly, s.Seq)
	if s.Final {
		title = fmt.Sprintf(l.final, s.Seq)
	}
	ref := cleanLine(s.Reference, maxNameRunes)
	if ref == "" {
		ref = cleanLine(s.IncidentID, maxNameRunes)
	}
	v := ReportView{
		Language:       s.Language,
		Title:          title,
		Subject:        fmt.Sprintf(l.subject, title, ref),
		Incident:       ref + " — " + cleanLine(s.Title, 500),
		Period:         fmt.Sprintf(l.period, date(s.PeriodFrom), date(s.PeriodTo)),
		Monitoring:     fmt.Sprintf(l.monitoring, date(s.Monitoring[0]), date(s.Monitoring[1])),
		DeliveriesHead: l.deliveriesHead, DeliveryCols: l.deliveryCols,
		ResetsHead:  l.resetsHead,
		SignalsHead: l.signalsHead, SignalCols: l.signalCols,
		AlertsHead: l.alertsHead, NoAlerts: l.noAlerts,
		DeadlinesHead: l.deadlinesHead, NoDeadlines: l.noDeadlines,
		Footer: l.footer,
	}
	if s.Language == "" {
		v.Language = breach.French
	}
	if s.EndedEarly {
		v.EndedEarly = l.endedEarly
	}
	n := func(x int64) string { return fmt.Sprintf("%d", x) }
	for _, d := range s.Deliveries {
		label := l.notice
		if d.Round > 0 {
			label = fmt.Sprintf(l.reminder, d.Round)
		}
		c := d.Counts
		v.Deliveries = append(v.Deliveries, ReportRow{Label: label, Values: []string{n(c.Pending), n(c.Sending), n(c.Sent), n(c.Failed), n(c.Unknown)}})
	}
	r := s.Resets
	pct := "0"
	if r.Total() > 0 {
		pct = fmt.Sprintf("%.1f", float64(r.Completed)*100/float64(r.Total()))
	}
	v.Resets = []ReportPair{
		{l.accounts, n(r.Total())}, {l.done, n(r.Done)}, {l.failed, n(r.Failed)},
		{l.inProg, n(r.Pending + r.Running)}, {l.completed, fmt.Sprintf("%d (%s %%)", r.Completed, pct)},
	}
	for _, t := range s.Signals {
		v.Signals = append(v.Signals, ReportRow{Label: l.kinds[t.Kind], Values: []string{n(t.InPeriod), n(t.Total), n(t.Accounts)}})
	}
	for _, a := range s.Alerts {
		var line string
		switch a.Kind {
		case breach.AlertThreshold:
			window := l.wholePeriod
			if a.WindowFrom != nil && a.WindowTo != nil {
				window = fmt.Sprintf("%s – %s", date(*a.WindowFrom), date(*a.WindowTo))
			}
			line = fmt.Sprintf(l.alertThreshold, l.kinds[a.SignalKind], a.Observed, a.Threshold, window)
			if a.DraftSeq != nil {
				line += fmt.Sprintf(l.draftOpened, *a.DraftSeq)
			} else if a.DraftError != "" {
				line += fmt.Sprintf(l.draftNot, cleanLine(a.DraftError, 500))
			}
		default:
			round := ""
			if v, ok := a.Detail["round"]; ok {
				round = fmt.Sprint(v)
			}
			line = fmt.Sprintf(l.alertLetter, round)
		}
		v.Alerts = append(v.Alerts, date(a.RaisedAt)+" — "+line)
	}
	for _, d := range s.Deadlines {
		line := fmt.Sprintf(l.deadline, regimeName(d.Regime), stageName(s.Language, d.Stage), date(d.DueAt))
		if d.DueAt.Before(s.GeneratedAt) {
			line += l.overdue
		}
		v.Deadlines = append(v.Deadlines, line)
	}
	return v
}

func regimeName(r breach.RegimeCode) string { return strings.ToUpper(string(r)) }

// stageName names a stage with the dossier's words.
func stageName(lang breach.Language, s breach.StageCode) string {
	if l, ok := labelsFor(lang); ok {
		return label(l.stages, s)
	}
	return string(s)
}

// Reports renders monitoring reports. It holds no state.
type Reports struct{}

// RenderReport renders the report: its subject and HTML.
func (Reports) RenderReport(ctx context.Context, s breach.ReportSummary) (string, []byte, error) {
	v := NewReportView(s)
	var b bytes.Buffer
	if err := reportHTML(v).Render(ctx, &b); err != nil {
		return "", nil, fmt.Errorf("render report: %w", err)
	}
	return v.Subject, b.Bytes(), nil
}
