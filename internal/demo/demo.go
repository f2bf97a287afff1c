// Package demo holds the synthetic incident shaped like the case the engine is
// built for, used by `breach dev --demo` and by the end-to-end tests.
package demo

import (
	"time"

	"github.com/breach-engine/breach/internal/breach"
)

// demoReference makes the demo idempotent: a restart finds the same incident.
const Reference = "demo-job-seekers-2026"

// Incident is a synthetic incident shaped like the case the engine is
// built for: 4.8 million job seekers' records (identity, contact, employment,
// health metadata, hashed passwords) exfiltrated from a public employment
// agency. Every name in it is fictional.
func Incident(now time.Time) breach.IncidentInput {
	ptr := func(b bool) *bool { return &b }
	ease, recipients, avail := breach.EaseMaximum, breach.RecipientsUnknown, breach.AvailabilityNone
	detected := now.Add(-3 * time.Hour).Truncate(time.Minute)
	aware := now.Add(-1 * time.Hour).Truncate(time.Minute)
	return breach.IncidentInput{
		Reference: Reference,
		Title:     "Exfiltration de la base des demandeurs d'emploi via le compte compromis d'un partenaire",
		Description: "Un attaquant a utilisé les identifiants d'un salarié d'un organisme de formation partenaire " +
			"pour interroger le service d'orientation et extraire les dossiers de 4,8 millions de demandeurs d'emploi inscrits.",
		Discovery:  "Volume de requêtes anormal signalé par le centre opérationnel de sécurité sur l'API d'orientation.",
		DetectedAt: detected, AwareAt: aware,
		AwareAtReason: "L'analyse des journaux a confirmé l'extraction de données personnelles.",
		Controller: breach.Controller{
			Name: "Agence nationale pour l'emploi (fictive)", SIREN: "130000003",
			LegalRepresentative: "Claire Martin, directrice générale",
			DPO:                 breach.Contact{Name: "Julien Robert", Email: "dpo@agence-emploi.example", Phone: "+33 1 23 45 67 89"},
		},
		DataCategories: []breach.DataCategory{
			breach.DataIdentification, breach.DataContact, breach.DataEmployment, breach.DataHealth, breach.DataCredentials,
		},
		SubjectCategories: []breach.SubjectCategory{"job_seekers"},
		ApproxSubjects:    4_800_000, ApproxRecords: 4_800_000,
		BreachTypes: []breach.BreachType{breach.Confidentiality},
		Cause:       "malicious_external",
		Ongoing:     false,
		Circumstances: breach.Circumstances{
			EaseOfIdentification: &ease, Recipients: &recipients, AvailabilityLoss: &avail,
			Malicious: ptr(true), DataUnintelligible: ptr(false), VulnerableSubjects: ptr(true),
			IntegrityRecoverable: ptr(true), BackupAvailable: ptr(true),
		},
	}
}

// Draft is the DPO's part of the initial CNIL dossier.
var Draft = breach.DraftFields{
	Language: breach.French,
	Nature: "Exfiltration, par un tiers malveillant utilisant le compte d'un partenaire, des données " +
		"d'identité, de contact, de parcours professionnel et de santé (métadonnées) de demandeurs d'emploi.",
	Consequences: "Hameçonnage ciblé et usurpation d'identité reprenant les données divulguées ; " +
		"tentatives de connexion avec les mots de passe hachés après cassage.",
	MeasuresTaken: "Compte partenaire désactivé, accès API restreints, journaux conservés, plainte déposée.",
	MeasuresProposed: "Réinitialisation forcée des mots de passe, information des personnes, " +
		"surveillance renforcée des connexions pendant 90 jours.",
}
