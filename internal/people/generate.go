package people

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Synthetic populations: realistic French names (with their accents), emails
// at the domains RFC 2606 reserves for examples (example.org, .com, .net and
// their subdomains: nothing is ever delivered to a real person), French mobile
// numbers written the many ways people write them, about 5% English speakers.
// The same seed gives the same file, byte for byte.

var firstNames = []string{
	"Marie", "Jean", "Pierre", "Michel", "André", "Philippe", "Nathalie", "Isabelle", "Sylvie", "Catherine",
	"Françoise", "Hélène", "Émilie", "Élodie", "Céline", "Stéphanie", "Sébastien", "Jérôme", "Frédéric", "Benoît",
	"François", "Gérard", "Jacques", "Chloé", "Léa", "Zoé", "Inès", "Anaïs", "Maëlle", "Noémie",
	"Loïc", "Maël", "Raphaël", "Gaël", "Noël", "Joël", "Thérèse", "Cécile", "Agnès", "Josiane",
	"Camille", "Manon", "Julie", "Sarah", "Laura", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur",
	"Jules", "Théo", "Nathan", "Enzo", "Mathéo", "Clément", "Valérie", "Véronique", "Aurélie", "Jean-Pierre",
	"Marie-Claire", "Anne-Sophie", "Jean-François", "Hervé", "Rémi", "Grégoire", "Léon", "Irène", "Mélanie", "Océane",
	"Solène", "Bérénice", "Aurélien", "Timothée", "Adèle", "Capucine", "Eugénie", "Ségolène", "Yannick", "Gwénaëlle",
}

var lastNames = []string{
	"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
	"Simon", "Laurent", "Lefèbvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
	"Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
	"Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Müller", "Henry", "Roussel", "Nicolas",
	"Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
	"Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier",
	"Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Pérez", "Marchand",
	"Dufour", "Blanchard", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
	"Lemaître", "Ménard", "Lévêque", "Barthélemy", "Hébert", "Prévost", "Bénard", "Maréchal", "Le Gall", "Le Goff",
	"Da Silva", "Carré", "Rivière", "Léger", "Bréhier", "Duchêne", "Château", "Crépin", "Besançon", "Loïez",
}

var englishFirst = []string{"Emily", "James", "Olivia", "Oliver", "Amelia", "Harry", "Sophie", "George", "Grace", "Jack"}
var englishLast = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans", "O'Brien"}

var domains = []string{
	"example.org", "example.com", "example.net", "mail.example.org", "courriel.example.net",
	"post.example.com", "webmail.example.org", "example.org", "example.com", "laposte.example.net",
}

var asciiFold = strings.NewReplacer(
	"à", "a", "â", "a", "ä", "a", "á", "a", "ç", "c", "é", "e", "è", "e", "ê", "e", "ë", "e",
	"î", "i", "ï", "i", "í", "i", "ô", "o", "ö", "o", "ó", "o", "ù", "u", "û", "u", "ü", "u", "ú", "u",
	"ÿ", "y", "œ", "oe", "æ", "ae", "ñ", "n", " ", "", "'", "",
)

func emailPart(s string) string { return asciiFold.Replace(strings.ToLower(s)) }

// GenerateOptions tune GenerateWith.
type GenerateOptions struct {
	// Duplicates is the share of rows (0 to 0.5) that repeat the email of an
	// earlier row (its domain sometimes in capitals, which normalises to the
	// same address): the import merges them.
	Duplicates float64
}

// Generate writes n synthetic people to w in format (CSV with a header, or
// JSONL), deterministically from seed, without duplicates.
func Generate(w io.Writer, n int, seed int64, format Format) error {
	return GenerateWith(w, n, seed, format, GenerateOptions{})
}

// GenerateWith is Generate with options.
func GenerateWith(w io.Writer, n int, seed int64, format Format, o GenerateOptions) error {
	if n < 0 {
		return fmt.Errorf("people: generate: negative count")
	}
	if o.Duplicates < 0 || o.Duplicates > 0.5 {
		return fmt.Errorf("people: generate: duplicates must be between 0 and 0.5")
	}
	if format == "" {
		format = CSV
	}
	if format != CSV && format != JSONL {
		return fmt.Errorf("people: generate: unknown format %q", format)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_b4ea_c4))
	var cw *csv.Writer
	if format == CSV {
		cw = csv.NewWriter(bw)
		_ = cw.Write([]string{"email", "first_name", "last_name", "phone", "language", "account_id"})
	}
	var recent [1024]string // emails of recent rows, for duplicates
	stored := 0
	rec := make([]string, 6)
	for i := 0; i < n; i++ {
		g := genRow(rng, i)
		if o.Duplicates > 0 && stored > 0 && rng.Float64() < o.Duplicates {
			email := recent[rng.IntN(min(stored, len(recent)))]
			if rng.IntN(3) == 0 {
				at := strings.LastIndexByte(email, '@')
				email = email[:at] + strings.ToUpper(email[at:])
			}
			g.email = email
		} else {
			recent[stored%len(recent)] = g.email
			stored++
		}
		if cw != nil {
			rec[0], rec[1], rec[2], rec[3], rec[4], rec[5] = g.email, g.first, g.last, g.phone, g.language, g.account
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("people: generate: %w", err)
			}
			continue
		}
		line, err := json.Marshal(struct {
			Email     string `json:"email"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Phone     string `json:"phone,omitempty"`
			Language  string `json:"language,omitempty"`
			AccountID string `json:"account_id"`
		}{g.email, g.first, g.last, g.phone, g.language, g.account})
		if err != nil {
			return fmt.Errorf("people: generate: %w", err)
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("people: generate: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("people: generate: %w", err)
	}
	return nil
}

type genPerson struct {
	email, first, last, phone, language, account string
}

func genRow(rng *rand.Rand, i int) genPerson {
	var g genPerson
	english := rng.IntN(100) < 5
	if english {
		g.first, g.last = englishFirst[rng.IntN(len(englishFirst))], englishLast[rng.IntN(len(englishLast))]
		g.language = "en"
	} else {
		g.first, g.last = firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		if rng.IntN(10) > 0 {
			g.language = "fr"
		}
	}
	f, l := emailPart(g.first), emailPart(g.last)
	// The row number makes every address unique (names carry no digits).
	num := strconv.Itoa(i + 1)
	var local string
	switch rng.IntN(4) {
	case 0:
		local = f + "." + l + num
	case 1:
		local = f[:1] + "." + l + num
	case 2:
		local = f + l + num
	default:
		local = l + "." + f + num
	}
	g.email = local + "@" + domains[rng.IntN(len(domains))]
	if rng.IntN(10) > 0 {
		g.phone = frenchMobile(rng)
	}
	g.account = fmt.Sprintf("FT-%08d", i+1)
	return g
}

// frenchMobile writes a 06/07 number in one of the usual ways.
func frenchMobile(rng *rand.Rand) string {
	var d [10]byte
	d[0], d[1] = '0', byte('6'+rng.IntN(2))
	for k := 2; k < 10; k++ {
		d[k] = byte('0' + rng.IntN(10))
	}
	s := string(d[:])
	pairs := s[0:2] + " " + s[2:4] + " " + s[4:6] + " " + s[6:8] + " " + s[8:10]
	switch rng.IntN(5) {
	case 0:
		return s
	case 1:
		return strings.ReplaceAll(pairs, " ", ".")
	case 2:
		return "+33 " + s[1:2] + " " + s[2:4] + " " + s[4:6] + " " + s[6:8] + " " + s[8:10]
	default:
		return pairs
	}
}
