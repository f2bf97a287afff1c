package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/mail"
	"github.com/breach-engine/breach/internal/store"
)

// The follow-up monitoring (DESIGN.md track 5): the reminder letter and its
// rounds, the abuse signals' thresholds, the alerts and the reports to the
// DPO. Every change is one transaction with its audit row; the emails to the
// DPO are external effects recorded (and audited) once they left.

// SaveReminder checks the reminder's fields, computes the content hash of the
// version (its rendering for the preview person) and stores it as the next
// version of the reminder in its language.
func (a *Activities) SaveReminder(ctx context.Context, in SaveReminderInput) (LetterRef, error) {
	var ref LetterRef
	err := a.do(ctx, "save reminder", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		if a.Reminders == nil {
			return nil, errors.New("no reminder renderer configured")
		}
		if in.Fields.Language != in.Language {
			return nil, breach.Invalid("fields.language", "must be the reminder's language %q", in.Language)
		}
		if err := in.Fields.Validate(); err != nil {
			return nil, err
		}
		slot, err := tx.PrepareLetterOf(ctx, in.Actor, breach.LetterReminder, in.IncidentID, in.Language, in.BaseVersion)
		if err != nil {
			return nil, err
		}
		hash := a.Reminders.ContentHash(slot.Incident, in.Fields, slot.Version)
		l, err := tx.SaveReminderVersion(ctx, in.Actor, slot, in.Fields, hash)
		if err != nil {
			return nil, err
		}
		return letterRef(l), nil
	})
	return ref, err
}

// StartReminder starts one reminder round (store.StartReminderSend): its
// people are fixed by its start. Without an approved reminder letter for a
// language among them it fails with a conflict naming the field "letters",
// and nothing is recorded: the workflow alerts the DPO and tries again once
// a reminder is approved.
func (a *Activities) StartReminder(ctx context.Context, in StartReminderInput) (ReminderRef, error) {
	var ref ReminderRef
	err := a.do(ctx, "start reminder", in.OpKey, in.RunID, in.IncidentID, &ref, func(ctx context.Context, tx *store.Tx) (any, error) {
		st, err := tx.StartReminderSend(ctx, breach.System, store.StartReminderInput{
			IncidentID: in.IncidentID, Round: in.Round, Partitions: in.Partitions, Policy: in.Policy,
		})
		if err != nil {
			return nil, err
		}
		out := ReminderRef{People: st.People}
		if s := st.Send; s != nil {
			out.Send = &SendRef{ID: s.ID, Seq: s.Seq, People: s.Total, MinPerson: s.MinPerson, MaxPerson: s.MaxPerson,
				Letters: st.Letters, Policy: s.Policy, Partitions: s.Partitions}
		}
		return out, nil
	})
	return ref, err
}

// EvaluateSignals lists the windows whose abuse signals reached their
// thresholds (read only): the workflow raises an alert for each it has not
// raised yet.
func (a *Activities) EvaluateSignals(ctx context.Context, in EvaluateSignalsInput) ([]breach.Crossing, error) {
	out, err := a.Store.SignalCrossings(ctx, in.IncidentID, in.Start, in.Thresholds)
	if err != nil {
		return nil, a.fail(ctx, "evaluate signals", in.IncidentID, err)
	}
	return out, nil
}

// RaiseAlert records an alert once (its key), emails the DPO through the
// relay and records that the email left, and, for a threshold crossing,
// opens a complementary filing draft pre-filled with the new facts (GDPR
// Art. 33(4): what was not known at the first notification follows in
// further ones, without undue further delay). Each step is recorded as it
// is done, so a retry only does what is left.
func (a *Activities) RaiseAlert(ctx context.Context, in AlertInput) (AlertRef, error) {
	var ref AlertRef
	alert, err := a.recordAlert(ctx, in)
	if err != nil {
		return ref, err
	}
	ref.ID = alert.ID
	inc, err := a.Store.GetIncident(ctx, in.IncidentID)
	if err != nil {
		return ref, a.fail(ctx, "raise alert", in.IncidentID, err)
	}
	if alert.MailedAt == nil {
		if err := a.mailAlert(ctx, inc, alert); err != nil {
			return ref, a.fail(ctx, "mail alert", in.IncidentID, err)
		}
	}
	ref.Mailed = true
	if in.Kind != breach.AlertThreshold {
		return ref, nil
	}
	if alert.DraftSeq != nil || alert.DraftError != "" {
		ref.DraftSeq = alert.DraftSeq
		return ref, nil
	}
	seq, reason, err := a.openComplementary(ctx, inc, alert)
	if err != nil {
		return ref, a.fail(ctx, "open complementary draft", in.IncidentID, err)
	}
	var seqp *int
	if reason == "" {
		seqp = &seq
	}
	err = a.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.AlertDraft(ctx, in.IncidentID, alert.ID, seqp, reason)
	})
	if err != nil {
		return ref, a.fail(ctx, "record complementary draft", in.IncidentID, err)
	}
	ref.DraftSeq = seqp
	return ref, nil
}

func (a *Activities) recordAlert(ctx context.Context, in AlertInput) (breach.MonitoringAlert, error) {
	al := breach.MonitoringAlert{IncidentID: in.IncidentID, Kind: in.Kind}
	switch in.Kind {
	case breach.AlertThreshold:
		if in.Crossing == nil {
			return al, a.fail(ctx, "raise alert", in.IncidentID, breach.Invalid("crossing", "is required"))
		}
		c := in.Crossing
		al.Key, al.SignalKind, al.Observed, al.Threshold, al.WindowFrom, al.WindowTo = c.Key(), c.Kind, c.Observed, c.Threshold, c.From, c.To
	case breach.AlertReminderLetterMissing:
		al.Key = fmt.Sprintf("reminder_letter/%d", in.Round)
		al.Detail = map[string]any{"round": in.Round, "reason": in.Reason}
	default:
		return al, a.fail(ctx, "raise alert", in.IncidentID, breach.Invalid("kind", "unknown alert kind"))
	}
	var out breach.MonitoringAlert
	err := a.do(ctx, "raise alert", in.OpKey, in.RunID, in.IncidentID, &out, func(ctx context.Context, tx *store.Tx) (any, error) {
		got, _, err := tx.RaiseAlert(ctx, al)
		return got, err
	})
	if err != nil {
		return out, err
	}
	// The stored result is the alert as first raised: read what was done since.
	cur, err := a.Store.Alert(ctx, in.IncidentID, out.ID)
	if err != nil {
		return out, a.fail(ctx, "raise alert", in.IncidentID, err)
	}
	return cur, nil
}

// mailAlert emails the DPO about the alert. Without a relay (a development
// set-up) it says so in the log and the alert stays unmailed: the timeline
// and the incident page still show it.
func (a *Activities) mailAlert(ctx context.Context, inc breach.Incident, al breach.MonitoringAlert) error {
	dpo := inc.Controller.DPO
	if a.Mail == nil || dpo.Email == "" {
		a.logger().WarnContext(ctx, "alert not mailed: no relay or no DPO address", "incident_id", inc.ID, "alert_id", al.ID)
		return nil
	}
	ref := inc.Reference
	if ref == "" {
		ref = inc.ID
	}
	var subject, body string
	switch al.Kind {
	case breach.AlertThreshold:
		window := "over the whole monitoring period"
		if al.WindowFrom != nil && al.WindowTo != nil {
			window = fmt.Sprintf("between %s and %s (UTC)", al.WindowFrom.Format(time.RFC3339), al.WindowTo.Format(time.RFC3339))
		}
		subject = fmt.Sprintf("Alert: %s threshold reached — incident %s", al.SignalKind, ref)
		body = fmt.Sprintf("%d %s signals were reported %s (threshold %d).\n\n"+
			"A complementary notification draft (GDPR Art. 33(4)) is being opened with these facts, for your review "+
			"and approval before filing. The incident page lists the alert and the draft.", al.Observed, al.SignalKind, window, al.Threshold)
	default:
		subject = fmt.Sprintf("Alert: reminder due without an approved reminder letter — incident %s", ref)
		body = fmt.Sprintf("Reminder round %v is due but no reminder letter is approved (%v).\n\n"+
			"Draft and approve the reminder letter: the round starts as soon as one is approved.", al.Detail["round"], al.Detail["reason"])
	}
	mid := a.Mail.KindMessageID("alert", inc.ID, 0, alertNumber(al.ID))
	if err := a.mailDPO(ctx, inc, mid, subject, []byte(textHTML(subject, body)), []byte(body+"\n")); err != nil {
		return err
	}
	return a.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.AlertMailed(ctx, inc.ID, al.ID, mid)
	})
}

// alertNumber folds an alert's UUID into the version part of its Message-ID.
func alertNumber(id string) int {
	h := sha256.Sum256([]byte(id))
	return int(h[0])<<16 | int(h[1])<<8 | int(h[2])
}

// mailDPO sends one message to the incident's DPO over a connection of the
// pool.
func (a *Activities) mailDPO(ctx context.Context, inc breach.Incident, messageID, subject string, htmlBody, text []byte) error {
	dpo := inc.Controller.DPO
	c, err := a.pool().get(ctx)
	if err != nil {
		return fmt.Errorf("open a connection to the relay: %w", err)
	}
	err = c.Send(ctx, mail.Message{
		MessageID: messageID,
		To:        mail.Address{Addr: dpo.Email, Name: oneLine(dpo.Name)},
		Subject:   oneLine(subject),
		HTML:      htmlBody,
		Text:      text,
	})
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("mail the DPO: %w", err)
	}
	a.pool().put(c)
	return nil
}

// textHTML is a plain message as HTML: the subject as heading, one paragraph
// per block, everything escaped.
func textHTML(subject, body string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(subject))
	b.WriteString("</title></head><body style=\"font-family:Arial,Helvetica,sans-serif;\"><h1 style=\"font-size:18px;\">")
	b.WriteString(html.EscapeString(subject))
	b.WriteString("</h1>")
	for _, p := range strings.Split(body, "\n\n") {
		b.WriteString("<p>" + html.EscapeString(p) + "</p>")
	}
	b.WriteString("</body></html>")
	return b.String()
}

// openComplementary opens the complementary draft of a threshold alert. A
// refusal of the regime (no initial filing yet, the incident closed) is the
// reason returned, not an error: the alert says why no draft was opened.
func (a *Activities) openComplementary(ctx context.Context, inc breach.Incident, al breach.MonitoringAlert) (int, string, error) {
	if a.Complementary == nil {
		return 0, "no Temporal client configured to open the draft", nil
	}
	resets, err := a.Store.ResetCounts(ctx, inc.ID)
	if err != nil {
		return 0, "", err
	}
	seq, err := a.Complementary.OpenComplementary(ctx, inc.ID, "monitoring/alert/"+al.ID, ComplementaryFields(al, resets))
	var be *breach.Error
	if errors.As(err, &be) {
		return 0, be.Error(), nil
	}
	return seq, "", err
}

// ComplementaryFields pre-fills a complementary notification (GDPR Art.
// 33(4)) with the facts of an alert: what was observed, in which window,
// and where the mitigation stands. The DPO completes and submits it for
// approval; it is in French, the language of the CNIL's service.
func ComplementaryFields(al breach.MonitoringAlert, r breach.ResetCounts) breach.DraftFields {
	what := map[breach.SignalKind]string{
		breach.SignalAccountTakeover: "prises de contrôle de comptes",
		breach.SignalSuspiciousLogin: "connexions suspectes",
		breach.SignalPhishingReport:  "signalements d'hameçonnage citant les données divulguées",
		breach.SignalDarkWebMention:  "mentions des données divulguées sur des forums ou places de marché illicites",
	}[al.SignalKind]
	window := "depuis le début de la surveillance"
	if al.WindowFrom != nil && al.WindowTo != nil {
		window = fmt.Sprintf("entre le %s et le %s (UTC)", al.WindowFrom.Format("02/01/2006 15:04"), al.WindowTo.Format("02/01/2006 15:04"))
	}
	return breach.DraftFields{
		Language: breach.French,
		Nature: fmt.Sprintf("Information complémentaire (article 33, paragraphe 4, du RGPD) : depuis la notification initiale, "+
			"l'organisme a constaté %d %s %s (seuil d'alerte : %d).", al.Observed, what, window, al.Threshold),
		Consequences: "Les données divulguées sont utilisées contre les personnes concernées : risque accru d'accès " +
			"frauduleux aux comptes, d'hameçonnage ciblé et d'usurpation d'identité.",
		MeasuresTaken: fmt.Sprintf("Réinitialisation forcée des mots de passe : %d comptes concernés, %d réinitialisations imposées, "+
			"%d réalisées par les personnes. Rappels envoyés aux personnes n'ayant pas encore réinitialisé leur mot de passe.",
			r.Total(), r.Done, r.Completed),
		MeasuresProposed: "À compléter par le DPO : mesures supplémentaires envisagées au vu de ces signaux.",
		Notes:            fmt.Sprintf("Projet ouvert automatiquement par l'alerte %s ; à relire, compléter et faire approuver.", al.Key),
	}
}

// WriteReport gathers the report's counts, renders it, stores it with the
// sha256 of its HTML (once per seq), and emails it to the DPO, recording
// that it left.
func (a *Activities) WriteReport(ctx context.Context, in ReportInput) (ReportRef, error) {
	ref := ReportRef{Seq: in.Seq, Final: in.Final}
	if a.Reports == nil {
		return ref, a.fail(ctx, "write report", in.IncidentID, errors.New("no report renderer configured"))
	}
	sum, err := a.reportSummary(ctx, in)
	if err != nil {
		return ref, a.fail(ctx, "write report", in.IncidentID, err)
	}
	subject, body, err := a.Reports.RenderReport(ctx, sum)
	if err != nil {
		return ref, a.fail(ctx, "render report", in.IncidentID, err)
	}
	h := sha256.Sum256(body)
	var rep breach.MonitoringReport
	err = a.do(ctx, "write report", in.OpKey, "", in.IncidentID, &rep, func(ctx context.Context, tx *store.Tx) (any, error) {
		r, _, err := tx.SaveReport(ctx, sum, body, hex.EncodeToString(h[:]))
		return r, err
	})
	if err != nil {
		return ref, err
	}
	ref.ID, ref.ContentHash = rep.ID, rep.ContentHash
	// What is mailed is what was stored (a retry after a change of counts
	// must not mail other numbers than those kept).
	stored, storedHTML, err := a.Store.ReportHTML(ctx, in.IncidentID, rep.ID)
	if err != nil {
		return ref, a.fail(ctx, "write report", in.IncidentID, err)
	}
	if stored.MailedAt != nil {
		ref.Mailed = true
		return ref, nil
	}
	inc, err := a.Store.GetIncident(ctx, in.IncidentID)
	if err != nil {
		return ref, a.fail(ctx, "write report", in.IncidentID, err)
	}
	if a.Mail == nil || inc.Controller.DPO.Email == "" {
		a.logger().WarnContext(ctx, "report not mailed: no relay or no DPO address", "incident_id", in.IncidentID, "seq", in.Seq)
		return ref, nil
	}
	mid := a.Mail.KindMessageID("report", in.IncidentID, 0, in.Seq)
	if stored.Summary.Seq != 0 {
		subject, _, _ = a.Reports.RenderReport(ctx, stored.Summary)
	}
	text := fmt.Sprintf("%s\n\nThe report is the HTML part of this message; its SHA-256 is %s.\n", subject, stored.ContentHash)
	if err := a.mailDPO(ctx, inc, mid, subject, storedHTML, []byte(text)); err != nil {
		return ref, a.fail(ctx, "mail report", in.IncidentID, err)
	}
	err = a.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.ReportMailed(ctx, in.IncidentID, rep.ID, mid)
	})
	if err != nil {
		return ref, a.fail(ctx, "record report mailed", in.IncidentID, err)
	}
	ref.Mailed = true
	return ref, nil
}

// reportSummary gathers what a report shows, from counters and small
// counts: deliveries by round, resets, signals, the alerts of the period,
// the open deadlines.
func (a *Activities) reportSummary(ctx context.Context, in ReportInput) (breach.ReportSummary, error) {
	s := breach.ReportSummary{IncidentID: in.IncidentID, Seq: in.Seq, Final: in.Final, EndedEarly: in.EndedEarly,
		Monitoring: [2]time.Time{in.Start.UTC(), in.End.UTC()}, PeriodFrom: in.From.UTC(), PeriodTo: in.To.UTC(),
		GeneratedAt: in.To.UTC(), Language: breach.French}
	inc, err := a.Store.GetIncident(ctx, in.IncidentID)
	if err != nil {
		return s, err
	}
	s.Reference, s.Title = inc.Reference, inc.Title
	if s.Deliveries, err = a.Store.RoundCounts(ctx, in.IncidentID); err != nil {
		return s, err
	}
	if s.Resets, err = a.Store.ResetCounts(ctx, in.IncidentID); err != nil {
		return s, err
	}
	if s.Signals, err = a.Store.SignalTotals(ctx, in.IncidentID, in.From, in.To); err != nil {
		return s, err
	}
	alerts, err := a.Store.Alerts(ctx, in.IncidentID)
	if err != nil {
		return s, err
	}
	for _, al := range alerts {
		if !al.RaisedAt.Before(in.From) && al.RaisedAt.Before(in.To.Add(time.Minute)) || in.Final {
			s.Alerts = append(s.Alerts, al)
		}
	}
	filings, err := a.Store.Filings(ctx, in.IncidentID)
	if err != nil {
		return s, err
	}
	s.Deadlines = breach.OpenDeadlines(inc, filings)
	return s, nil
}
