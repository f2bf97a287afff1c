package templates

import "github.com/breach-engine/breach/internal/breach"

// labels are the words of a dossier in one language: the static headings and
// the names of every code the dossier shows. A code without a label is shown
// as itself, so that a new code is visible rather than silently blank.
type labels struct {
	lang breach.Language

	// Document.
	titleByRegime    map[breach.RegimeCode]string
	articleByRegime  map[breach.RegimeCode]string
	stages           map[breach.StageCode]string
	complementaryNo  string // format with the number
	recipient        string
	filingHeading    string
	filingKind       string
	complements      string
	filedOn          string // "filed on %s, reference %s"
	noReference      string
	notes            string
	incidentID       string
	reference        string
	draftVersion     string
	draftNotice      string
	regimeNotice     map[breach.RegimeCode]string
	notProvided      string
	notKnownYet      string
	yes, no          string
	timesInParis     string
	organisationHead string
	orgName          string
	siren            string
	legalRep         string
	dpoHead          string
	name, email      string
	phone            string
	contactHead      string
	contactIsDPO     string

	timelineHead   string
	occurredAt     string
	detectedAt     string
	awareAt        string
	awareAtReason  string
	deadlinesHead  string
	deadlineStage  string
	deadlineDue    string
	deadlineStatus string
	filed          string
	notFiled       string
	thisFiling     string
	narrative      string
	delayHead      string

	natureHead  string
	title       string
	natureText  string
	description string
	discovery   string
	breachTypes string
	cause       string
	ongoing     string
	ongoingYes  string
	ongoingNo   string

	scopeHead         string
	dataCategories    string
	subjectCategories string
	subjects          string
	records           string

	consequencesHead string
	measuresHead     string
	measuresTaken    string
	measuresProposed string

	riskHead          string
	notAssessed       string
	proposalHead      string
	proposedRisk      string
	enisa             string
	band              string
	notifySA          string
	notifySubjects    string
	proposedExemption string
	noExemption       string
	reasonsHead       string
	reasonsNote       string
	decisionHead      string
	decidedRisk       string
	exemption         string
	overridden        string
	decisionReason    string
	decidedAt         string

	filingsHead   string
	noFilings     string
	filingRegime  string
	filingStage   string
	filingDate    string
	filingChannel string
	filingRef     string
	filingLate    string

	footer string

	// Codes.
	breachTypeNames  map[breach.BreachType]string
	dataCategoryName map[breach.DataCategory]string
	subjectNames     map[breach.SubjectCategory]string
	causeNames       map[breach.Cause]string
	riskNames        map[breach.Risk]string
	bandNames        map[breach.Band]string
	exemptionNames   map[breach.Exemption]string
	channelNames     map[string]string
}

func labelsFor(lang breach.Language) (*labels, bool) {
	switch lang {
	case breach.French:
		return &fr, true
	case breach.English:
		return &en, true
	}
	return nil, false
}

var fr = labels{
	lang: breach.French,
	titleByRegime: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "Notification d'une violation de données à caractère personnel",
		breach.RegimeNIS2: "Notification d'un incident important (NIS2)",
	},
	articleByRegime: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "article 33 du RGPD",
		breach.RegimeNIS2: "article 23 de la directive NIS2",
	},
	stages: map[breach.StageCode]string{
		breach.StageInitial:       "Notification initiale",
		breach.StageComplementary: "Notification complémentaire",
		breach.StageWithdrawal:    "Retrait de la notification",
		breach.StageEarlyWarning:  "Alerte précoce (24 heures)",
		breach.StageNotification:  "Notification d'incident (72 heures)",
		breach.StageFinalReport:   "Rapport final",
	},
	complementaryNo: "Notification complémentaire n°\u00a0%d",
	recipient:       "Destinataire\u00a0:",
	filingHeading:   "Objet de la notification",
	filingKind:      "Type de notification",
	complements:     "Complète",
	filedOn:         "%s déposée le %s, référence %s",
	noReference:     "sans référence",
	notes:           "Éléments nouveaux depuis la notification précédente",
	incidentID:      "Identifiant de l'incident",
	reference:       "Référence interne",
	draftVersion:    "Version du projet",
	draftNotice:     "Projet de notification, version %d.",
	regimeNotice: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "Ce dossier prépare la notification en ligne sur le téléservice de la CNIL ; le récépissé de dépôt est ensuite enregistré dans le registre des violations (article 33(5) du RGPD).",
		breach.RegimeNIS2: "Ce dossier prépare la déclaration de l'incident à l'ANSSI (CSIRT) ; la référence de déclaration est ensuite enregistrée dans le registre.",
	},
	notProvided:      "Non renseigné à ce stade",
	notKnownYet:      "Non connu à ce stade (sera complété ultérieurement)",
	yes:              "Oui",
	no:               "Non",
	timesInParis:     "Les dates et heures sont exprimées en heure de Paris.",
	organisationHead: "Responsable du traitement",
	orgName:          "Organisme",
	siren:            "Numéro SIREN",
	legalRep:         "Représentant légal",
	dpoHead:          "Délégué à la protection des données (article 33(3)(b) du RGPD)",
	name:             "Nom",
	email:            "Courriel",
	phone:            "Téléphone",
	contactHead:      "Personne à contacter",
	contactIsDPO:     "Le délégué à la protection des données.",

	timelineHead:   "Chronologie",
	occurredAt:     "Début de la violation",
	detectedAt:     "Détection de l'incident",
	awareAt:        "Prise de connaissance de la violation (point de départ du délai de 72 heures)",
	awareAtReason:  "Motif retenu pour la date de prise de connaissance",
	deadlinesHead:  "Échéances",
	deadlineStage:  "Étape",
	deadlineDue:    "Échéance",
	deadlineStatus: "État",
	filed:          "Déposée",
	notFiled:       "Non déposée",
	thisFiling:     "objet du présent dossier",
	narrative:      "Déroulé de l'incident",
	delayHead:      "Motifs du retard (article 33(1) du RGPD)",

	natureHead:  "Nature de la violation (article 33(3)(a) du RGPD)",
	title:       "Intitulé",
	natureText:  "Description de la violation",
	description: "Circonstances",
	discovery:   "Mode de découverte",
	breachTypes: "Types de violation",
	cause:       "Origine",
	ongoing:     "Violation en cours",
	ongoingYes:  "Oui, la violation est toujours en cours.",
	ongoingNo:   "Non, la violation a pris fin.",

	scopeHead:         "Données et personnes concernées (article 33(3)(a) du RGPD)",
	dataCategories:    "Catégories de données",
	subjectCategories: "Catégories de personnes concernées",
	subjects:          "Nombre approximatif de personnes concernées",
	records:           "Nombre approximatif d'enregistrements concernés",

	consequencesHead: "Conséquences probables (article 33(3)(c) du RGPD)",
	measuresHead:     "Mesures prises ou envisagées (article 33(3)(d) du RGPD)",
	measuresTaken:    "Mesures prises",
	measuresProposed: "Mesures envisagées, y compris pour atténuer les éventuelles conséquences négatives",

	riskHead:          "Évaluation du risque pour les personnes",
	notAssessed:       "Le risque n'a pas encore été évalué.",
	proposalHead:      "Proposition issue de la méthode (ENISA et lignes directrices 9/2022 du CEPD)",
	proposedRisk:      "Niveau de risque proposé",
	enisa:             "Score de gravité ENISA",
	band:              "Niveau de gravité",
	notifySA:          "Notification à l'autorité",
	notifySubjects:    "Information des personnes concernées",
	proposedExemption: "Exemption proposée (article 34(3) du RGPD)",
	noExemption:       "Aucune",
	reasonsHead:       "Détail du calcul",
	reasonsNote:       "Tel que produit par le moteur d'évaluation (en anglais).",
	decisionHead:      "Décision du délégué à la protection des données",
	decidedRisk:       "Niveau de risque retenu",
	exemption:         "Exemption retenue (article 34(3) du RGPD)",
	overridden:        "Proposition modifiée",
	decisionReason:    "Motif de la décision",
	decidedAt:         "Date de la décision",

	filingsHead:   "Notifications déjà effectuées",
	noFilings:     "Aucune notification déposée à ce jour.",
	filingRegime:  "Autorité",
	filingStage:   "Notification",
	filingDate:    "Date de dépôt",
	filingChannel: "Canal",
	filingRef:     "Référence",
	filingLate:    "Hors délai",

	footer: "Document établi par le moteur de notification des violations.",

	breachTypeNames: map[breach.BreachType]string{
		breach.Confidentiality: "Perte de confidentialité (accès ou divulgation non autorisés)",
		breach.Integrity:       "Perte d'intégrité (altération non autorisée)",
		breach.Availability:    "Perte de disponibilité (destruction ou perte)",
	},
	dataCategoryName: map[breach.DataCategory]string{
		breach.DataIdentification:  "État civil, identité, données d'identification",
		breach.DataContact:         "Coordonnées (adresse postale, courriel, téléphone)",
		breach.DataOfficialID:      "Numéros d'identification officiels (NIR, pièce d'identité)",
		breach.DataCredentials:     "Données d'authentification (identifiants, mots de passe)",
		breach.DataFinancial:       "Informations d'ordre économique et financier",
		breach.DataHealth:          "Données de santé",
		breach.DataSpecialCategory: "Autres catégories particulières de données (article 9 du RGPD)",
		breach.DataBehavioural:     "Données comportementales (habitudes, préférences)",
		breach.DataLocation:        "Données de localisation",
		breach.DataEmployment:      "Vie professionnelle (parcours, situation d'emploi)",
		breach.DataMinors:          "Données concernant des mineurs",
	},
	subjectNames: map[breach.SubjectCategory]string{
		"job_seekers": "Demandeurs d'emploi",
		"employees":   "Salariés ou agents",
		"customers":   "Clients",
		"users":       "Usagers ou utilisateurs",
		"patients":    "Patients",
		"students":    "Élèves ou étudiants",
		"minors":      "Mineurs",
		"citizens":    "Administrés",
		"suppliers":   "Fournisseurs",
		"other":       "Autres personnes",
	},
	causeNames: map[breach.Cause]string{
		"malicious_external":  "Acte malveillant externe",
		"malicious_internal":  "Acte malveillant interne",
		"accidental_internal": "Erreur ou accident interne",
		"accidental_external": "Erreur ou accident d'un tiers (prestataire, sous-traitant)",
		"system_failure":      "Défaillance technique",
		"unknown":             "Origine inconnue à ce stade",
	},
	riskNames: map[breach.Risk]string{
		breach.RiskNone: "Risque improbable : inscription au registre des violations seulement (article 33(5) du RGPD)",
		breach.RiskSome: "Risque : notification à l'autorité (article 33(1) du RGPD)",
		breach.RiskHigh: "Risque élevé : notification à l'autorité et information des personnes (article 34(1) du RGPD)",
	},
	bandNames: map[breach.Band]string{
		breach.BandLow:      "faible",
		breach.BandMedium:   "moyen",
		breach.BandHigh:     "élevé",
		breach.BandVeryHigh: "très élevé",
	},
	exemptionNames: map[breach.Exemption]string{
		breach.ExemptionUnintelligible: "Article 34(3)(a) : données rendues incompréhensibles pour toute personne non autorisée",
		breach.ExemptionMitigated:      "Article 34(3)(b) : mesures ultérieures rendant le risque élevé improbable",
		breach.ExemptionDisproportion:  "Article 34(3)(c) : efforts disproportionnés, communication publique à la place",
	},
	channelNames: map[string]string{
		"cnil_online":  "Téléservice de notification de la CNIL",
		"email":        "Courriel",
		"anssi_portal": "Portail de déclaration de l'ANSSI",
		"post":         "Courrier",
	},
}

var en = labels{
	lang: breach.English,
	titleByRegime: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "Personal data breach notification",
		breach.RegimeNIS2: "Significant incident notification (NIS2)",
	},
	articleByRegime: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "GDPR Article 33",
		breach.RegimeNIS2: "NIS2 Directive Article 23",
	},
	stages: map[breach.StageCode]string{
		breach.StageInitial:       "Initial notification",
		breach.StageComplementary: "Complementary notification",
		breach.StageWithdrawal:    "Withdrawal of the notification",
		breach.StageEarlyWarning:  "Early warning (24 hours)",
		breach.StageNotification:  "Incident notification (72 hours)",
		breach.StageFinalReport:   "Final report",
	},
	complementaryNo: "Complementary notification no. %d",
	recipient:       "To:",
	filingHeading:   "This notification",
	filingKind:      "Kind of notification",
	complements:     "Completes",
	filedOn:         "%s filed on %s, reference %s",
	noReference:     "no reference",
	notes:           "What is new since the previous notification",
	incidentID:      "Incident identifier",
	reference:       "Internal reference",
	draftVersion:    "Draft version",
	draftNotice:     "Draft notification, version %d.",
	regimeNotice: map[breach.RegimeCode]string{
		breach.RegimeGDPR: "This dossier prepares the online notification through the CNIL's notification service; the filing receipt is then recorded in the breach register (GDPR Article 33(5)).",
		breach.RegimeNIS2: "This dossier prepares the incident report to ANSSI (CSIRT); the report reference is then recorded in the register.",
	},
	notProvided:      "Not provided at this stage",
	notKnownYet:      "Not known yet (to follow in a later notification)",
	yes:              "Yes",
	no:               "No",
	timesInParis:     "Dates and times are given in Paris time.",
	organisationHead: "Controller",
	orgName:          "Organisation",
	siren:            "SIREN number",
	legalRep:         "Legal representative",
	dpoHead:          "Data protection officer (GDPR Article 33(3)(b))",
	name:             "Name",
	email:            "Email",
	phone:            "Telephone",
	contactHead:      "Contact person",
	contactIsDPO:     "The data protection officer.",

	timelineHead:   "Timeline",
	occurredAt:     "Start of the breach",
	detectedAt:     "Detection of the incident",
	awareAt:        "Awareness of the breach (start of the 72-hour period)",
	awareAtReason:  "Grounds for the awareness date",
	deadlinesHead:  "Deadlines",
	deadlineStage:  "Stage",
	deadlineDue:    "Due",
	deadlineStatus: "Status",
	filed:          "Filed",
	notFiled:       "Not filed",
	thisFiling:     "this dossier",
	narrative:      "Course of the incident",
	delayHead:      "Reasons for the delay (GDPR Article 33(1))",

	natureHead:  "Nature of the breach (GDPR Article 33(3)(a))",
	title:       "Title",
	natureText:  "Description of the breach",
	description: "Circumstances",
	discovery:   "How the breach was discovered",
	breachTypes: "Breach types",
	cause:       "Cause",
	ongoing:     "Breach ongoing",
	ongoingYes:  "Yes, the breach is still ongoing.",
	ongoingNo:   "No, the breach has ended.",

	scopeHead:         "Data and people concerned (GDPR Article 33(3)(a))",
	dataCategories:    "Categories of data",
	subjectCategories: "Categories of people concerned",
	subjects:          "Approximate number of people concerned",
	records:           "Approximate number of records concerned",

	consequencesHead: "Likely consequences (GDPR Article 33(3)(c))",
	measuresHead:     "Measures taken or proposed (GDPR Article 33(3)(d))",
	measuresTaken:    "Measures taken",
	measuresProposed: "Measures proposed, including to mitigate possible adverse effects",

	riskHead:          "Assessment of the risk to the people",
	notAssessed:       "The risk has not been assessed yet.",
	proposalHead:      "Proposal from the method (ENISA and EDPB Guidelines 9/2022)",
	proposedRisk:      "Proposed risk level",
	enisa:             "ENISA severity score",
	band:              "Severity band",
	notifySA:          "Notify the authority",
	notifySubjects:    "Tell the people concerned",
	proposedExemption: "Proposed exemption (GDPR Article 34(3))",
	noExemption:       "None",
	reasonsHead:       "How the result was reached",
	reasonsNote:       "As produced by the assessment engine.",
	decisionHead:      "Decision of the data protection officer",
	decidedRisk:       "Decided risk level",
	exemption:         "Decided exemption (GDPR Article 34(3))",
	overridden:        "Proposal overridden",
	decisionReason:    "Reason for the decision",
	decidedAt:         "Decided on",

	filingsHead:   "Notifications already made",
	noFilings:     "No notification filed so far.",
	filingRegime:  "Authority",
	filingStage:   "Notification",
	filingDate:    "Filed on",
	filingChannel: "Channel",
	filingRef:     "Reference",
	filingLate:    "Late",

	footer: "Document prepared by the breach-notification engine.",

	breachTypeNames: map[breach.BreachType]string{
		breach.Confidentiality: "Loss of confidentiality (unauthorised access or disclosure)",
		breach.Integrity:       "Loss of integrity (unauthorised alteration)",
		breach.Availability:    "Loss of availability (destruction or loss)",
	},
	dataCategoryName: map[breach.DataCategory]string{
		breach.DataIdentification:  "Identity and identification data",
		breach.DataContact:         "Contact details (postal address, email, telephone)",
		breach.DataOfficialID:      "Official identifiers (social security number, identity documents)",
		breach.DataCredentials:     "Authentication data (user names, passwords)",
		breach.DataFinancial:       "Economic and financial information",
		breach.DataHealth:          "Health data",
		breach.DataSpecialCategory: "Other special categories of data (GDPR Article 9)",
		breach.DataBehavioural:     "Behavioural data (habits, preferences)",
		breach.DataLocation:        "Location data",
		breach.DataEmployment:      "Employment data (career, employment situation)",
		breach.DataMinors:          "Data about minors",
	},
	subjectNames: map[breach.SubjectCategory]string{
		"job_seekers": "Job seekers",
		"employees":   "Employees or staff",
		"customers":   "Customers",
		"users":       "Users",
		"patients":    "Patients",
		"students":    "Pupils or students",
		"minors":      "Minors",
		"citizens":    "Citizens",
		"suppliers":   "Suppliers",
		"other":       "Other people",
	},
	causeNames: map[breach.Cause]string{
		"malicious_external":  "Malicious act from outside",
		"malicious_internal":  "Malicious act from inside",
		"accidental_internal": "Internal error or accident",
		"accidental_external": "Error or accident of a third party (supplier, processor)",
		"system_failure":      "Technical failure",
		"unknown":             "Cause not known yet",
	},
	riskNames: map[breach.Risk]string{
		breach.RiskNone: "No risk likely: recorded in the breach register only (GDPR Article 33(5))",
		breach.RiskSome: "Risk: notify the authority (GDPR Article 33(1))",
		breach.RiskHigh: "High risk: notify the authority and tell the people (GDPR Article 34(1))",
	},
	bandNames: map[breach.Band]string{
		breach.BandLow:      "low",
		breach.BandMedium:   "medium",
		breach.BandHigh:     "high",
		breach.BandVeryHigh: "very high",
	},
	exemptionNames: map[breach.Exemption]string{
		breach.ExemptionUnintelligible: "Article 34(3)(a): data unintelligible to anyone not authorised",
		breach.ExemptionMitigated:      "Article 34(3)(b): later measures make the high risk no longer likely",
		breach.ExemptionDisproportion:  "Article 34(3)(c): disproportionate effort, public communication instead",
	},
	channelNames: map[string]string{
		"cnil_online":  "CNIL online notification service",
		"email":        "Email",
		"anssi_portal": "ANSSI reporting portal",
		"post":         "Post",
	},
}

// label returns the name of a code in m, or the code itself.
func label[K ~string](m map[K]string, k K) string {
	if s, ok := m[k]; ok {
		return s
	}
	return string(k)
}
