package templates

import "github.com/breach-engine/breach/internal/breach"

// letterLabels are the fixed texts of the letter to the people concerned
// (GDPR Art. 34) in one language. Art. 34(2) asks for clear and plain
// language: short sentences, everyday words, no article numbers in the body.
// A %s is the controller's name unless said otherwise. French texts put a
// no-break space before a colon, as French typography does.
type letterLabels struct {
	lang breach.Language

	greeting      string // %s: the person's name
	greetingPlain string // when the name is not known
	intro         string

	whatHappened string

	dataHead          string
	concernedIntro    string
	notConcernedIntro string
	dataCategory      map[breach.DataCategory]string

	consequencesHead string

	measuresHead  string
	passwordReset string // no %s

	adviceHead        string
	advicePasswords   string
	advicePhishing    string
	adviceStatements  string // no %s
	adviceVictimsSite string // no %s

	contactHead   string
	helpline      string // %s: the number
	helplineHours string // %s: the number, %s: the hours
	dpoIntro      string // %s: the DPO's name
	email         string // with its colon
	phone         string // with its colon
	complainCNIL  string // no %s

	closing   string // no %s
	noLinks   string // no %s
	reference string // %s: the incident reference, %d: the letter version
}

var letterFR = letterLabels{
	lang:          breach.French,
	greeting:      "Bonjour %s,",
	greetingPlain: "Bonjour,",
	intro: "Nous vous écrivons pour vous informer qu'un incident de sécurité chez %s a exposé des données " +
		"personnelles vous concernant. Ce courrier vous explique ce qui s'est passé, quelles données sont " +
		"concernées, ce que nous avons fait et ce que vous pouvez faire pour vous protéger.",

	whatHappened: "Ce qui s'est passé",

	dataHead:          "Les données concernées",
	concernedIntro:    "Les données suivantes vous concernant ont été exposées\u00a0:",
	notConcernedIntro: "Ces données ne sont pas concernées\u00a0:",
	dataCategory: map[breach.DataCategory]string{
		breach.DataIdentification:  "Votre identité (par exemple nom, prénoms, date de naissance)",
		breach.DataContact:         "Vos coordonnées (adresse postale, adresse électronique, numéro de téléphone)",
		breach.DataOfficialID:      "Vos numéros officiels (numéro de sécurité sociale, pièce d'identité)",
		breach.DataCredentials:     "Vos identifiants de connexion (identifiant, mot de passe)",
		breach.DataFinancial:       "Vos données bancaires et financières",
		breach.DataHealth:          "Des informations sur votre santé",
		breach.DataSpecialCategory: "D'autres informations sensibles (origine, opinions politiques, convictions religieuses, appartenance syndicale, vie sexuelle)",
		breach.DataBehavioural:     "Vos habitudes et préférences",
		breach.DataLocation:        "Les lieux où vous vous trouvez ou vous êtes trouvé (données de localisation)",
		breach.DataEmployment:      "Votre parcours professionnel et votre situation d'emploi",
		breach.DataMinors:          "Des informations sur des enfants mineurs",
	},

	consequencesHead: "Les conséquences possibles pour vous",

	measuresHead: "Ce que nous avons fait",
	passwordReset: "Par précaution, nous avons réinitialisé le mot de passe de tous les comptes. Lors de votre " +
		"prochaine connexion, il vous sera demandé d'en choisir un nouveau\u00a0: choisissez un mot de passe " +
		"que vous n'utilisez nulle part ailleurs.",

	adviceHead: "Ce que nous vous recommandons de faire",
	advicePasswords: "Si vous utilisiez ailleurs (messagerie, réseaux sociaux, sites marchands) le même mot de passe " +
		"que sur votre compte %s, changez-le sur chacun de ces services, avec un mot de passe différent pour chacun.",
	advicePhishing: "Méfiez-vous des courriels, SMS ou appels qui citent vos informations personnelles pour " +
		"paraître dignes de confiance\u00a0: des fraudeurs peuvent se servir des données exposées. %s ne vous " +
		"demandera jamais votre mot de passe ni vos coordonnées bancaires par courriel, SMS ou téléphone. En cas de " +
		"doute, ne cliquez sur aucun lien, n'ouvrez aucune pièce jointe et ne rappelez pas le numéro indiqué.",
	adviceStatements: "Surveillez vos relevés bancaires et vos relevés de remboursement de l'Assurance Maladie et de " +
		"votre complémentaire santé. Signalez sans attendre à votre banque ou à votre caisse toute opération que " +
		"vous ne reconnaissez pas.",
	adviceVictimsSite: "Le site officiel d'assistance aux victimes, cybermalveillance.gouv.fr, explique comment " +
		"reconnaître une tentative d'hameçonnage et où trouver de l'aide. Tapez son adresse vous-même dans " +
		"votre navigateur.",

	contactHead:   "Pour toute question",
	helpline:      "Une ligne téléphonique dédiée répond à vos questions au %s.",
	helplineHours: "Une ligne téléphonique dédiée répond à vos questions au %s, %s.",
	dpoIntro:      "Vous pouvez aussi écrire à notre délégué à la protection des données, %s\u00a0:",
	email:         "Courriel\u00a0:",
	phone:         "Téléphone\u00a0:",
	complainCNIL: "Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation " +
		"à la CNIL (Commission nationale de l'informatique et des libertés).",

	closing:   "Nous regrettons sincèrement cet incident et vous prions de nous en excuser.",
	noLinks:   "Ce message ne contient aucun lien et aucune pièce jointe.",
	reference: "Référence de l'incident\u00a0: %s. Version %d de ce courrier.",
}

var letterEN = letterLabels{
	lang:          breach.English,
	greeting:      "Dear %s,",
	greetingPlain: "Hello,",
	intro: "We are writing to let you know that a security incident at %s exposed personal data about you. " +
		"This letter explains what happened, which data is concerned, what we have done and what you can do " +
		"to protect yourself.",

	whatHappened: "What happened",

	dataHead:          "The data concerned",
	concernedIntro:    "The following data about you was exposed:",
	notConcernedIntro: "This data is not concerned:",
	dataCategory: map[breach.DataCategory]string{
		breach.DataIdentification:  "Your identity (for example surname, first names, date of birth)",
		breach.DataContact:         "Your contact details (postal address, email address, telephone number)",
		breach.DataOfficialID:      "Your official numbers (social security number, identity documents)",
		breach.DataCredentials:     "Your sign-in details (user name, password)",
		breach.DataFinancial:       "Your bank and financial details",
		breach.DataHealth:          "Information about your health",
		breach.DataSpecialCategory: "Other sensitive information (ethnic origin, political opinions, religious beliefs, trade union membership, sex life)",
		breach.DataBehavioural:     "Your habits and preferences",
		breach.DataLocation:        "Where you are or have been (location data)",
		breach.DataEmployment:      "Your career and employment situation",
		breach.DataMinors:          "Information about children",
	},

	consequencesHead: "What this could mean for you",

	measuresHead: "What we have done",
	passwordReset: "As a precaution, we have reset the password of every account. The next time you sign in, " +
		"you will be asked to choose a new one: pick a password that you do not use anywhere else.",

	adviceHead: "What we recommend you do",
	advicePasswords: "If you used the same password as on your %s account anywhere else (email, social networks, " +
		"online shops), change it on each of those services, with a different password for each.",
	advicePhishing: "Be wary of emails, text messages or calls that quote your personal details to seem " +
		"trustworthy: fraudsters may use the exposed data. %s will never ask for your password or bank details " +
		"by email, text message or telephone. If in doubt, do not click any link, do not open any attachment and " +
		"do not call back the number given.",
	adviceStatements: "Check your bank statements and your health-insurance reimbursement statements (Assurance " +
		"Maladie and any complementary insurer). Report any transaction that you do not recognise to your bank or " +
		"insurer without delay.",
	adviceVictimsSite: "The French government's victim-assistance site, cybermalveillance.gouv.fr, explains how " +
		"to recognise a phishing attempt and where to find help. Type its address into your browser yourself.",

	contactHead:   "If you have questions",
	helpline:      "A dedicated telephone line answers your questions on %s.",
	helplineHours: "A dedicated telephone line answers your questions on %s, %s.",
	dpoIntro:      "You can also write to our data protection officer, %s:",
	email:         "Email:",
	phone:         "Telephone:",
	complainCNIL: "If you believe that your rights have not been respected, you can complain to the CNIL, " +
		"the French data protection authority.",

	closing:   "We sincerely regret this incident and apologise for it.",
	noLinks:   "This message contains no links and no attachments.",
	reference: "Incident reference: %s. Version %d of this letter.",
}

func letterLabelsFor(lang breach.Language) (*letterLabels, bool) {
	switch lang {
	case breach.French:
		return &letterFR, true
	case breach.English:
		return &letterEN, true
	}
	return nil, false
}
