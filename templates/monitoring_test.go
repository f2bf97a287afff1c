package templates

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// The reminder (FR, EN) and the monitoring report to the DPO, against golden
// files; `go test ./templates -update` rewrites them.

func reminderInput(lang breach.Language) ReminderInput {
	in := ReminderInput{Incident: fixtureIncident(), Version: 2}
	if lang == breach.English {
		in.Fields = breach.ReminderFields{Language: breach.English, Subject: "Reminder: your password reset is still pending",
			HowToReset: "Type the address of our site in your browser yourself.\nChoose \"Forgotten password\" and follow the steps."}
		in.Recipient = breach.Recipient{PersonID: 42, Name: "Alex Taylor", Email: "alex.taylor@person.example", Language: breach.English}
		return in
	}
	in.Fields = breach.ReminderFields{Language: breach.French, Subject: "Rappel : votre mot de passe reste à réinitialiser",
		HowToReset: "Tapez vous-même l'adresse de notre site dans votre navigateur.\nChoisissez « Mot de passe oublié » et suivez les étapes.",
		Helpline:   "09 70 00 00 00", HelplineHours: "du lundi au vendredi, de 9 h à 18 h"}
	in.Recipient = breach.Recipient{PersonID: 41, Name: "Camille Martin", Email: "camille.martin@personne.example", Language: breach.French}
	return in
}

func TestReminderGolden(t *testing.T) {
	for _, lang := range []breach.Language{breach.French, breach.English} {
		t.Run(string(lang), func(t *testing.T) {
			in := reminderInput(lang)
			r, err := Reminders{}.RenderReminder(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "reminder_"+string(lang)+".golden.html"), r.HTML)
			golden(t, filepath.Join("testdata", "reminder_"+string(lang)+".golden.txt"), r.Text)
			if r.Subject != in.Fields.Subject {
				t.Errorf("subject %q", r.Subject)
			}
			// What the reminder must say, in both parts: the reset is pending,
			// how to do it, the phishing warning, the DPO's contact; no link.
			dpo := in.Incident.Controller.DPO
			for _, part := range []string{string(r.HTML), unwrapped(r.Text)} {
				howTo := strings.SplitN(in.Fields.HowToReset, "\n", 2)[0]
				pending := map[breach.Language]string{breach.French: "n'est pas encore faite", breach.English: "is still pending"}[lang]
				for _, want := range []string{pending, howTo, dpo.Email, reminderLabelsFor(lang).phishingNever} {
					if !strings.Contains(part, htmlEscapeApos(want)) && !strings.Contains(part, want) {
						t.Errorf("%s: %q missing", lang, want)
					}
				}
			}
			if bytes.Contains(r.HTML, []byte("<a ")) || bytes.Contains(r.HTML, []byte("href")) {
				t.Errorf("%s: the reminder has a link", lang)
			}
			h := ReminderContentHash(in.Incident, in.Fields, in.Version)
			if len(h) != 64 || h != ReminderContentHash(in.Incident, in.Fields, in.Version) ||
				h == ReminderContentHash(in.Incident, in.Fields, in.Version+1) {
				t.Errorf("%s: content hash %q", lang, h)
			}
		})
	}
}

func htmlEscapeApos(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }

func reportSummary(final bool) breach.ReportSummary {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	d := func(n int) time.Time { return start.Add(time.Duration(n) * 24 * time.Hour) }
	w0, w1 := d(12), d(13)
	seq := 2
	s := breach.ReportSummary{
		IncidentID: "7f1c2d3e-0000-4000-8000-000000000001", Reference: "FT-2026-11", Title: "Fuite des dossiers de demandeurs d'emploi",
		Seq: seq, Monitoring: [2]time.Time{start, d(90)}, PeriodFrom: d(7), PeriodTo: d(14), GeneratedAt: d(14), Language: breach.French,
		Deliveries: []breach.SendCounts{
			{Round: 0, Counts: breach.DeliveryCounts{Sent: 4_799_120, Failed: 812, Unknown: 68}},
			{Round: 1, Counts: breach.DeliveryCounts{Pending: 1200, Sending: 250, Sent: 2_101_330, Failed: 311}},
		},
		Resets:  breach.ResetCounts{Done: 4_599_000, Failed: 1000, Completed: 2_450_000},
		Signals: []breach.SignalTotal{{Kind: breach.SignalAccountTakeover, Total: 3, InPeriod: 2, Accounts: 3}, {Kind: breach.SignalSuspiciousLogin, Total: 420, InPeriod: 130}, {Kind: breach.SignalPhishingReport}, {Kind: breach.SignalDarkWebMention}},
		Alerts: []breach.MonitoringAlert{
			{Kind: breach.AlertThreshold, SignalKind: breach.SignalAccountTakeover, Observed: 1, Threshold: 1, RaisedAt: d(9), DraftSeq: ptr(2)},
			{Kind: breach.AlertThreshold, SignalKind: breach.SignalSuspiciousLogin, Observed: 130, Threshold: 100, WindowFrom: &w0, WindowTo: &w1, RaisedAt: d(12).Add(5 * time.Hour), DraftError: "stage complementary needs stage initial filed first"},
		},
		Deadlines: []breach.Deadline{{Regime: breach.RegimeGDPR, Stage: breach.StageInitial, DueAt: d(-3)}},
	}
	if final {
		s.Seq, s.Final, s.EndedEarly, s.PeriodFrom, s.PeriodTo, s.GeneratedAt = 3, true, true, d(14), d(17), d(17)
		s.Language = breach.English
	}
	return s
}

func TestReportGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		final bool
	}{{"report_weekly_fr", false}, {"report_final_en", true}} {
		t.Run(c.name, func(t *testing.T) {
			s := reportSummary(c.final)
			subject, html, err := Reports{}.RenderReport(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", c.name+".golden.html"), html)
			_, again, _ := Reports{}.RenderReport(context.Background(), s)
			if !bytes.Equal(html, again) {
				t.Error("two renderings differ")
			}
			if !strings.Contains(subject, "FT-2026-11") || strings.Contains(subject, "\n") {
				t.Errorf("subject %q", subject)
			}
			if c.final != bytes.Contains(html, []byte(`data-field="ended-early"`)) {
				t.Errorf("final %v, ended-early marker %v", c.final, !c.final)
			}
		})
	}
}
