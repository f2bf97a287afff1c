package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/demo"
	"github.com/breach-engine/breach/workflows"
)

func runDemo(ctx context.Context, out io.Writer, svc *app.Service, accounts []devAccount) error {
	actor := func(r breach.Role) breach.Actor {
		for _, a := range accounts {
			if a.Role == r {
				return breach.Actor{UserID: a.UserID, Role: r}
			}
		}
		return breach.Actor{}
	}
	dpo, approver := actor(breach.RoleDPO), actor(breach.RoleApprover)

	inc, created, err := svc.OpenIncident(ctx, dpo, demo.Incident(time.Now()))
	if err != nil {
		return fmt.Errorf("open demo incident: %w", err)
	}
	fmt.Fprintf(out, "\nDemo incident %s (%s)\n", inc.ID, inc.Title)
	if !created {
		fmt.Fprintln(out, "  already opened by an earlier run: see `breach incident show "+inc.ID+"`")
		return nil
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, d := range app.Deadlines(inc, nil) {
		fmt.Fprintf(out, "  deadline %s/%s: %s (Paris time)\n", d.Regime, d.Stage, d.DueAt.In(paris).Format("02/01/2006 15:04"))
	}
	proposal := breach.Assess(inc.Facts())
	fmt.Fprintf(out, "  proposed: ENISA %.2f (%s), risk %s\n", proposal.ENISA.Score, proposal.ENISA.Band, proposal.Risk)
	res, err := svc.Assess(ctx, dpo, inc.ID, "", workflows.AssessUpdate{
		Reason: "Confirmed: health metadata of millions of people exfiltrated by a malicious actor.",
	})
	if err != nil {
		return fmt.Errorf("assess demo incident: %w", err)
	}
	fmt.Fprintf(out, "  DPO confirmed risk %s (notify CNIL: %t, tell the people: %t)\n", res.Decided, res.NotifySA, res.NotifySubjects)
	ref, err := svc.SaveDraft(ctx, dpo, inc.ID, breach.RegimeGDPR, "", workflows.SaveDraftUpdate{
		Stage: breach.StageInitial, Fields: demo.Draft,
	})
	if err != nil {
		return fmt.Errorf("draft demo dossier: %w", err)
	}
	fmt.Fprintf(out, "  DPO drafted the CNIL dossier, version %d (sha256 %s...)\n", ref.Version, ref.ContentHash[:12])
	err = svc.DecideDraft(ctx, dpo, inc.ID, breach.RegimeGDPR, "", workflows.DecideDraftUpdate{
		Stage: breach.StageInitial, Seq: ref.Key.Seq, Version: ref.Version, Approve: true, Comment: "self-approval attempt",
	})
	// Refused twice over: a DPO never decides on drafts (role), and the
	// author never approves their own text (four-eyes).
	fmt.Fprintf(out, "  the DPO's own approval is refused (only an approver, never the text's author, may approve): %v\n", err)
	if err := svc.DecideDraft(ctx, approver, inc.ID, breach.RegimeGDPR, "", workflows.DecideDraftUpdate{
		Stage: breach.StageInitial, Seq: ref.Key.Seq, Version: ref.Version, Approve: true, Comment: "Complete and accurate.",
	}); err != nil {
		return fmt.Errorf("approve demo dossier: %w", err)
	}
	fmt.Fprintln(out, "  the approver approved it. Next, as the DPO, record the filing:")
	fmt.Fprintf(out, "    breach incident file %s --filed-at %s --channel cnil_online --reference CNIL-DEMO-0001\n",
		inc.ID, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "    breach incident dossier %s %s > dossier.html\n", inc.ID, ref.ID)
	// The demo imports nobody and starts no reset, so no monitoring runs yet:
	// say what starts it rather than show an empty one.
	fmt.Fprintln(out, "  Once people are imported (breach people import) and their password reset started (breach accounts start),")
	fmt.Fprintln(out, "  follow the monitoring (reminders, abuse signals, alerts, reports):")
	fmt.Fprintf(out, "    breach monitoring status --incident %s\n", inc.ID)
	return nil
}
