package templates

import (
	"time"

	"github.com/breach-engine/breach/activities"
	"github.com/breach-engine/breach/internal/breach"
)

// A synthetic incident shaped like the motivating case: a public employment
// agency loses 4.8 million job-seeker records (identity, contact, employment,
// health metadata, hashed passwords) to an attacker. Every name is fictional;
// addresses use the reserved .example domain.

func ptr[T any](v T) *T { return &v }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func fixtureIncident() breach.Incident {
	occurred := utc("2026-11-03T22:15:00Z")
	return breach.Incident{
		ID: "4b1d6c0e-1f2a-4c3b-9d8e-000000000017",
		IncidentInput: breach.IncidentInput{
			Reference: "VIOL-2026-017",
			Title:     "Exfiltration de dossiers de demandeurs d'emploi par un compte partenaire compromis",
			Description: "Un attaquant a utilisé les identifiants d'un conseiller d'un organisme partenaire pour interroger " +
				"l'outil de consultation des dossiers et en extraire le contenu par lots.\n" +
				"Les requêtes ont été émises depuis des adresses IP étrangères entre le 3 et le 21 novembre 2026.",
			Discovery:     "Alerte du centre opérationnel de sécurité sur un volume anormal de consultations, confirmée par l'analyse des journaux.",
			DetectedAt:    utc("2026-11-21T16:40:00Z"),
			AwareAt:       utc("2026-11-22T08:30:00Z"),
			AwareAtReason: "L'analyse des journaux a établi le 22/11 au matin que des données personnelles avaient bien été extraites.",
			OccurredAt:    &occurred,
			Controller: breach.Controller{
				Name:                "Agence publique pour l'emploi de Valmont (fictive)",
				SIREN:               "123456782",
				LegalRepresentative: "Claire Fontaine, directrice générale",
				DPO: breach.Contact{
					Name:  "Julien Marchal",
					Email: "dpo@emploi-valmont.example",
					Phone: "+33 1 23 45 67 89",
				},
			},
			DataCategories: []breach.DataCategory{
				breach.DataCredentials, breach.DataIdentification, breach.DataContact,
				breach.DataEmployment, breach.DataHealth,
			},
			SubjectCategories: []breach.SubjectCategory{"job_seekers"},
			ApproxSubjects:    4_800_000,
			ApproxRecords:     5_150_000,
			BreachTypes:       []breach.BreachType{breach.Confidentiality},
			Cause:             "malicious_external",
			Ongoing:           false,
			Regimes:           []breach.RegimeCode{breach.RegimeGDPR, breach.RegimeNIS2},
			Circumstances: breach.Circumstances{
				EaseOfIdentification: ptr(breach.EaseMaximum),
				Recipients:           ptr(breach.RecipientsUnknown),
				Malicious:            ptr(true),
				DataUnintelligible:   ptr(false),
				VulnerableSubjects:   ptr(true),
			},
		},
		State:     breach.StateAssessed,
		CreatedBy: "u-dpo-1",
		CreatedAt: utc("2026-11-22T08:45:00Z"),
	}
}

func fixtureAssessment(inc breach.Incident) *breach.AssessmentRecord {
	facts := inc.Facts()
	return &breach.AssessmentRecord{
		ID:         "a-0001",
		IncidentID: inc.ID,
		Facts:      facts,
		Proposed:   breach.Assess(facts),
		Decided:    breach.RiskHigh,
		Reason:     "Proposition confirmée : données de santé et identifiants de connexion exposés à grande échelle.",
		DecidedBy:  "u-dpo-1",
		DecidedAt:  utc("2026-11-22T10:15:00Z"),
	}
}

func frenchFields() breach.DraftFields {
	return breach.DraftFields{
		Language: breach.French,
		Nature: "Violation de confidentialité d'origine malveillante : extraction, au moyen d'un compte partenaire " +
			"compromis, des dossiers de 4,8 millions de demandeurs d'emploi inscrits ces vingt dernières années.",
		Consequences: "Hameçonnage ciblé et usurpation d'identité s'appuyant sur les données divulguées ; " +
			"atteinte à la vie privée du fait de la divulgation d'informations relatives à la santé (reconnaissance de handicap) ; " +
			"tentatives d'accès aux comptes si les mots de passe hachés étaient cassés.",
		MeasuresTaken: "Compte partenaire désactivé le 21/11 ; réinitialisation forcée des mots de passe de tous les comptes ; " +
			"plainte déposée ; renforcement de l'authentification des partenaires.",
		MeasuresProposed: "Information individuelle des personnes par courriel et courrier, avec mise en garde contre l'hameçonnage " +
			"et renvoi vers cybermalveillance.gouv.fr ; ligne téléphonique dédiée ; surveillance des usages frauduleux.",
		Timeline: "03/11 : premières requêtes anormales.\n21/11 : alerte du centre opérationnel de sécurité.\n22/11 : extraction confirmée.",
	}
}

func englishFields() breach.DraftFields {
	return breach.DraftFields{
		Language: breach.English,
		Nature: "Malicious breach of confidentiality: through a compromised partner account, the records of 4.8 million " +
			"job seekers registered over the last twenty years were extracted.",
		Consequences: "Targeted phishing and identity theft using the disclosed data; invasion of privacy through " +
			"the disclosure of health-related information (disability status); attempts to take over accounts if the hashed passwords were cracked.",
		MeasuresTaken:    "Partner account disabled on 21 November; forced reset of every password; complaint filed; stronger authentication for partners.",
		MeasuresProposed: "Tell every person by email and post, with a phishing warning and a pointer to cybermalveillance.gouv.fr; a dedicated telephone line; monitoring for fraudulent use.",
	}
}

// initialFR is the initial CNIL notification, in French.
func initialFR() activities.DossierInput {
	inc := fixtureIncident()
	return activities.DossierInput{
		Incident:   inc,
		Assessment: fixtureAssessment(inc),
		Key:        breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial},
		Version:    2,
		Fields:     frenchFields(),
	}
}

func initialEN() activities.DossierInput {
	in := initialFR()
	in.Fields = englishFields()
	return in
}

// complementaryFR is the first complementary notification after a late
// initial filing, with a contact person other than the DPO.
func complementaryFR() activities.DossierInput {
	in := initialFR()
	in.Key = breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageComplementary, Seq: 1}
	in.Version = 1
	in.Fields.ContactPerson = &breach.Contact{Name: "Nadia Berrada", Email: "securite@emploi-valmont.example"}
	in.Fields.Notes = "Le nombre d'enregistrements a été établi à 5,15 millions ; aucune donnée bancaire n'est concernée."
	in.Fields.DelayReasons = "La notification initiale a été déposée 5 heures après l'échéance : l'ampleur de l'extraction n'a été établie qu'à l'issue de l'analyse des journaux."
	in.Filings = []breach.Filing{
		{
			ID: "f-0002", IncidentID: in.Incident.ID,
			Key:     breach.DraftKey{Regime: breach.RegimeNIS2, Stage: breach.StageEarlyWarning},
			FiledAt: utc("2026-11-22T15:00:00Z"), Channel: "anssi_portal", Reference: "ANSSI-FICTIF-0042",
		},
		{
			ID: "f-0001", IncidentID: in.Incident.ID,
			Key:     breach.DraftKey{Regime: breach.RegimeGDPR, Stage: breach.StageInitial},
			FiledAt: utc("2026-11-25T13:30:00Z"), Channel: "cnil_online", Reference: "CNIL-FICTIF-2026-000123",
			Late: true, DelayReasons: "Ampleur établie tardivement.",
		},
	}
	return in
}

// earlyWarningFR is the NIS2 early warning, before any assessment.
func earlyWarningFR() activities.DossierInput {
	in := initialFR()
	in.Assessment = nil
	in.Incident.Ongoing = true
	in.Incident.OccurredAt = nil
	in.Incident.ApproxRecords = 0
	in.Key = breach.DraftKey{Regime: breach.RegimeNIS2, Stage: breach.StageEarlyWarning}
	in.Version = 1
	in.Fields.MeasuresProposed = ""
	in.Fields.Timeline = ""
	return in
}
