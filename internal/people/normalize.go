package people

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/breach-engine/breach/internal/breach"
)

// reason is a rejection reason: it names the rule, never the value.
type reason string

func (r reason) Error() string { return string(r) }

func reasonf(col, msg string) error { return reason(col + ": " + msg) }

// invisible reports format characters that could hide or reorder text in a
// mail client: bidirectional controls (a "Trojan Source" name), line and
// paragraph separators, zero-width spaces and the BOM. Joiners (ZWJ, ZWNJ)
// are legitimate in some scripts and stay.
func invisible(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0x2028, r == 0x2029, r == 0x200B, r == 0xFEFF, r == 0x2060:
		return true
	}
	return false
}

// checkText refuses invalid UTF-8, control and invisible characters.
func checkText(col, s string) error {
	i := 0
	for ; i < len(s) && s[i] < utf8.RuneSelf; i++ { // ASCII: only controls to refuse
		if c := s[i]; c < 0x20 || c == 0x7f {
			break
		}
	}
	if i == len(s) {
		return nil
	}
	for _, r := range s[i:] {
		switch {
		case r == utf8.RuneError:
			// Invalid UTF-8, a replacement character, or a byte that
			// Windows-1252 leaves undefined: the text is damaged.
			return reasonf(col, "not valid text (an invalid or undefined character)")
		case r == '\r' || r == '\n':
			return reasonf(col, "contains a line break (CR or LF)")
		case unicode.IsControl(r):
			return reasonf(col, "contains a control character")
		case invisible(r):
			return reasonf(col, "contains an invisible formatting character")
		}
	}
	return nil
}

// NormalizeName trims a name, collapses inner white space (any Unicode space,
// the no-break space included) to one space, and puts it in NFC. It refuses
// control characters, CR and LF first of all (the name goes into a mail
// header), and invisible formatting characters.
func NormalizeName(s string) (string, error) { return normalizeName("name", s) }

func normalizeName(col, s string) (string, error) {
	if len(s) > MaxFieldBytes {
		return "", reasonf(col, "oversize field (longer than 1024 bytes)")
	}
	if err := checkText(col, s); err != nil {
		return "", err
	}
	if isPlainASCII(s) {
		// Fast path: nothing to compose, only spaces to collapse.
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "  ") {
			if len(s) > MaxNameRunes {
				return "", reasonf(col, "oversize field (longer than 200 characters)")
			}
			return s, nil
		}
	} else if spaced, belowMarks := scanName(s); spaced {
		// Most names with accents have no white space to collapse either:
		// only the composition is left. A string of characters below
		// U+0300, the first combining mark, is NFC already (all of them are
		// NFC_QC=Yes, combining class 0): French names, Latin-1 and the
		// ligatures, without the normaliser's tables.
		out := s
		if !belowMarks {
			out = norm.NFC.String(s)
		}
		if utf8.RuneCountInString(out) > MaxNameRunes {
			return "", reasonf(col, "oversize field (longer than 200 characters)")
		}
		return out, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := norm.NFC.String(b.String())
	if utf8.RuneCountInString(out) > MaxNameRunes {
		return "", reasonf(col, "oversize field (longer than 200 characters)")
	}
	return out, nil
}

// scanName reports whether s has no white space but single ASCII spaces
// between words (what normalizeName's loop would leave as it is), and
// whether all its characters are below U+0300.
func scanName(s string) (spaced, belowMarks bool) {
	prev, top := ' ', rune(0) // a space at the start is to be trimmed
	for _, r := range s {
		if r == ' ' && prev == ' ' || r != ' ' && unicode.IsSpace(r) {
			return false, false
		}
		prev, top = r, max(top, r)
	}
	return prev != ' ', top < 0x300
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// JoinName builds the full name from first and last names (each normalised).
func JoinName(first, last string) (string, error) {
	f, err := normalizeName("first_name", first)
	if err != nil {
		return "", err
	}
	l, err := normalizeName("last_name", last)
	if err != nil {
		return "", err
	}
	var name string
	switch {
	case f != "" && l != "":
		name = f + " " + l // one allocation
	case f != "":
		name = f
	default:
		name = l
	}
	if utf8.RuneCountInString(name) > MaxNameRunes {
		return "", reason("name: oversize field (first and last name longer than 200 characters)")
	}
	return name, nil
}

// idnaProfile is the Lookup profile: UTS #46 mapping (lower case among
// others), STD3 host names, hyphen and bidi rules.
var idnaProfile = idna.Lookup

// NormalizeEmail checks that s is one bare address (local@domain: no display
// name, no angle brackets, comments or quoted local part), keeps the local
// part as written and returns the domain lower-cased in its ASCII (IDNA
// A-label) form, so that "Marie@Café.example" and "Marie@xn--caf-dma.example"
// are the same address.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", reason("email: missing")
	case len(s) > MaxEmailBytes:
		return "", reason("email: oversize field (longer than 254 bytes)")
	}
	at := strings.LastIndexByte(s, '@')
	dotAtom := at > 0 && isDotAtom(s[:at])
	// The usual address, a dot-atom at a host name, is printable ASCII
	// without any of the characters refused below: its checks would pass.
	if !dotAtom || !isLDH(s[at+1:]) {
		if err := checkText("email", s); err != nil {
			return "", err
		}
		if strings.ContainsAny(s, " \t<>(),;:\"[]\\") {
			return "", reason("email: only a bare address is accepted (no display name, spaces, brackets, comments or quotes)")
		}
	}
	if at <= 0 || at == len(s)-1 {
		return "", reason("email: not an address (local@domain)")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > MaxLocalPartBytes {
		return "", reason("email: local part longer than 64 bytes")
	}
	ascii, err := normalizeDomain(domain)
	if err != nil {
		return "", err
	}
	addr := s
	if ascii != domain {
		addr = local + "@" + ascii
	}
	if dotAtom {
		// The common case: an ASCII dot-atom local part and a host name,
		// which net/mail accepts as they are (TestDotAtomAgreesWithNetMail).
		return addr, nil
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Name != "" || parsed.Address != addr {
		return "", reason("email: not a valid address")
	}
	return addr, nil
}

// isDotAtom reports whether s is an RFC 5322 dot-atom of ASCII atext:
// atoms of letters, digits and !#$%&'*+-/=?^_`{|}~ joined by single dots.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case !atext[c]:
			return false
		}
	}
	return true
}

// atext is RFC 5322 atext as a table (a lookup per byte of every address
// imported): letters, digits and !#$%&'*+-/=?^_`{|}~.
var atext = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", byte(c)) >= 0
	}
	return t
}()

func normalizeDomain(d string) (string, error) {
	if ascii, ok := plainHostName(d); ok {
		return ascii, nil
	}
	var ascii string
	if isPlainASCII(d) && isLDH(d) {
		ascii = strings.ToLower(d) // the common case: already an A-label domain
		if strings.Contains(ascii, "xn--") {
			var err error
			if ascii, err = idnaProfile.ToASCII(ascii); err != nil {
				return "", reason("email: the domain is not a valid internationalised name")
			}
		}
	} else {
		var err error
		if ascii, err = idnaProfile.ToASCII(d); err != nil {
			return "", reason("email: the domain is not a valid host name")
		}
	}
	if len(ascii) > 253 {
		return "", reason("email: the domain is longer than 253 bytes")
	}
	if !strings.Contains(ascii, ".") {
		return "", reason("email: the domain has no dot")
	}
	for l := range strings.SplitSeq(ascii, ".") { // no slice of labels to allocate
		switch {
		case l == "":
			return "", reason("email: the domain has an empty label")
		case len(l) > 63:
			return "", reason("email: a domain label is longer than 63 bytes")
		case l[0] == '-' || l[len(l)-1] == '-':
			return "", reason("email: a domain label starts or ends with a hyphen")
		}
	}
	if !isLDH(ascii) {
		return "", reason("email: the domain is not a valid host name")
	}
	return ascii, nil
}

// plainHostName is normalizeDomain's common case in one pass: an ASCII host
// name with at least one dot, labels of 1 to 63 letters, digits and inner
// hyphens, without "xn--" (A-labels, which IDNA must check), at most
// 253 bytes. It returns it in lower case. Anything else (ok false) takes the
// general path, which also says what is wrong.
func plainHostName(d string) (ascii string, ok bool) {
	if len(d) > 253 {
		return "", false
	}
	upper, dots, label := false, 0, 0 // label: length of the current label
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			if c == 'x' && aLabel(d[i:]) {
				return "", false
			}
		case c >= 'A' && c <= 'Z':
			upper = true
			if c == 'X' && aLabel(d[i:]) {
				return "", false
			}
		case c == '-':
			if label == 0 || i+1 == len(d) || d[i+1] == '.' {
				return "", false
			}
		case c == '.':
			if label == 0 {
				return "", false
			}
			dots, label = dots+1, 0
			continue
		default:
			return "", false
		}
		if label++; label > 63 {
			return "", false
		}
	}
	if dots == 0 || label == 0 {
		return "", false
	}
	if upper {
		return strings.ToLower(d), true
	}
	return d, true
}

// aLabel reports whether s starts with "xn--", in any case.
func aLabel(s string) bool {
	return len(s) >= 4 && s[0]|0x20 == 'x' && s[1]|0x20 == 'n' && s[2] == '-' && s[3] == '-'
}

// isLDH: letters, digits, hyphens and dots.
func isLDH(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// overseas maps the first four digits of a French national number to the
// country code of the overseas department it belongs to: 0692 12 34 56 is
// +262 692 12 34 56, not +33.
var overseas = map[string]string{
	"0262": "262", "0263": "262", "0692": "262", "0693": "262", // La Réunion
	"0269": "262", "0639": "262", // Mayotte
	"0590": "590", "0690": "590", "0691": "590", // Guadeloupe, Saint-Martin, Saint-Barthélemy
	"0594": "594", "0694": "594", // Guyane
	"0596": "596", "0696": "596", "0697": "596", // Martinique
}

// NormalizePhone returns a phone number in E.164 (+ and 8 to 15 digits), or
// "" for an empty field. It accepts French national numbers (ten digits
// starting with 0, in any grouping: "06 12 34 56 78", "06.12.34.56.78"),
// "+33 (0)6 ..." and "0033 ...", and international numbers in + or 00 form,
// which are checked by their digit count only. Separators: space, no-break
// space, '.', '-', '/', parentheses.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxPhoneBytes {
		return "", reason("phone: oversize field (longer than 32 bytes)")
	}
	var digits [MaxPhoneBytes]byte
	n := 0
	plus := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits[n] = byte(r)
			n++
		case r == '+' && n == 0 && !plus:
			plus = true
		case r == ' ' || r == '.' || r == '-' || r == '/' || r == '(' || r == ')' || r == '\u00a0' || r == '\u202f':
		default:
			return "", reason("phone: only digits, a leading + and separators (space . - / ( )) are accepted")
		}
	}
	d := digits[:n]
	if !plus && n >= 2 && d[0] == '0' && d[1] == '0' {
		plus, d = true, d[2:]
	}
	if !plus {
		if len(d) != 10 || d[0] != '0' || d[1] == '0' {
			return "", reason("phone: not a French number (0X XX XX XX XX) nor an international one (+ or 00 and the country code)")
		}
		if cc, ok := overseas[string(d[:4])]; ok {
			return e164(cc, d[1:]), nil
		}
		return e164("33", d[1:]), nil
	}
	if len(d) >= 2 && d[0] == '3' && d[1] == '3' {
		nsn := d[2:]
		if len(nsn) == 10 && nsn[0] == '0' { // +33 (0)6 12 34 56 78
			nsn = nsn[1:]
		}
		if len(nsn) != 9 || nsn[0] == '0' {
			return "", reason("phone: a French number has 9 digits after +33")
		}
		return e164("33", nsn), nil
	}
	if len(d) < 8 || len(d) > 15 {
		return "", reason("phone: an international number has 8 to 15 digits")
	}
	if d[0] == '0' {
		return "", reason("phone: a country code does not start with 0")
	}
	return e164("", d), nil
}

// e164 writes + country code and number with one allocation.
func e164(cc string, nsn []byte) string {
	var b [1 + 3 + MaxPhoneBytes]byte
	out := append(append(append(b[:0], '+'), cc...), nsn...)
	return string(out)
}

// NormalizeLanguage reads fr or en, with a region or in words (fr-FR, en_GB,
// French, anglais); empty means fr.
func NormalizeLanguage(s string) (breach.Language, error) {
	switch s { // the usual values, without the copies below
	case "fr", "":
		return breach.French, nil
	case "en":
		return breach.English, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return breach.French, nil
	}
	if len(s) > MaxLanguageBytes {
		return "", reason("language: oversize field (longer than 16 bytes)")
	}
	base, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(s, "_", "-")), "-")
	switch base {
	case "fr", "fra", "fre", "french", "français", "francais":
		return breach.French, nil
	case "en", "eng", "english", "anglais":
		return breach.English, nil
	}
	return "", reason("language: must be fr or en")
}

// NormalizeAccountID trims an identity-provider account ID and refuses
// control and invisible characters and white space inside.
func NormalizeAccountID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxAccountIDBytes {
		return "", reason("account_id: oversize field (longer than 128 bytes)")
	}
	if err := checkText("account_id", s); err != nil {
		return "", err
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", reason("account_id: contains white space")
	}
	return s, nil
}

// reasonOf returns the text of a rejection reason.
func reasonOf(err error) string {
	var r reason
	if errors.As(err, &r) {
		return string(r)
	}
	return "invalid row"
}
