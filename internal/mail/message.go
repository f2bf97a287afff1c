package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	netmail "net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// Address is a mailbox: the address, and the display name if any.
type Address struct {
	Addr string
	Name string
}

// Message is one letter to one person.
type Message struct {
	// MessageID is the Message-ID header with its angle brackets, as
	// MessageID makes it: a resend after an unknown outcome reuses it.
	MessageID string
	From      Address // empty Addr: the Sender's configured From
	To        Address
	ReplyTo   Address // the DPO contact; empty Addr: none
	Subject   string
	HTML      []byte // text/html part (UTF-8)
	Text      []byte // text/plain part (UTF-8)
	// Headers are extra header fields, such as Content-Language. The fields
	// the package sets itself (From, To, Subject, Message-ID, Date, MIME and
	// DKIM fields...) cannot be given here, nor List-Unsubscribe: these are
	// legal notices, which nobody unsubscribes from.
	Headers map[string]string
}

// FieldError says a message cannot be sent as it is: a header value holding
// CR or LF (which would add a header), an invalid address, a missing part.
// It names the field, never its value.
type FieldError struct {
	Field  string // "To.Name", "Subject", "Headers[Content-Language]"...
	Reason string
}

func (e *FieldError) Error() string { return "mail: message " + e.Field + ": " + e.Reason }

// MessageID is the deterministic Message-ID of a letter: the same incident,
// person and letter version give the same ID, so that a resend after an
// unknown outcome can be recognised by the recipient's mail system as the
// same message. Form: <letter.INCIDENT.pPERSON.vVERSION@DOMAIN>, where an
// incident ID made of anything but letters, digits and hyphens (or longer
// than 64) is replaced by a hash of it, and an unusable domain by "invalid".
func MessageID(incidentID string, personID int64, letterVersion int, domain string) string {
	return KindMessageID("letter", incidentID, personID, letterVersion, domain)
}

// KindMessageID is MessageID with another first part than "letter" (a
// letters-only token such as "reminder2" or "report"), so that messages of
// other kinds to the same person never share a Message-ID with the letter.
func KindMessageID(kind, incidentID string, personID int64, letterVersion int, domain string) string {
	if !isToken(kind, 32) {
		kind = "letter"
	}
	id := incidentID
	if !isToken(id, 64) {
		sum := sha256.Sum256([]byte(incidentID))
		id = "h" + hex.EncodeToString(sum[:12])
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !isDomain(domain) {
		domain = "invalid"
	}
	return fmt.Sprintf("<%s.%s.p%d.v%d@%s>", kind, id, personID, letterVersion, domain)
}

func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// Header fields that Send sets itself, which Message.Headers may not carry,
// and those refused outright.
var (
	reserved = []string{
		"from", "to", "cc", "bcc", "reply-to", "sender", "subject", "message-id", "date",
		"mime-version", "content-type", "content-transfer-encoding", "dkim-signature",
		"return-path", "received", "in-reply-to", "references", "auto-submitted",
		"x-auto-response-suppress",
	}
	refused = []string{"list-unsubscribe", "list-unsubscribe-post"}
)

// Limits on header values: far above any real name or subject, far below
// the 998-octet line limit once encoded.
const (
	maxName    = 200
	maxSubject = 250
	maxHeader  = 500
)

// build checks m and makes go-mail's message; it returns the recipient's bare
// address for RCPT TO.
func (c *Conn) build(m Message) (*gomail.Msg, string, error) {
	bad := func(field, reason string) (*gomail.Msg, string, error) {
		return nil, "", &FieldError{Field: field, Reason: reason}
	}
	if !isMessageID(m.MessageID) {
		return bad("MessageID", "want <left@domain> in printable ASCII, as MessageID makes it")
	}
	from := c.s.from
	if m.From.Addr != "" || m.From.Name != "" {
		if r := checkAddr(m.From.Addr); r != "" {
			return bad("From.Addr", r)
		}
		from = netmail.Address{Address: m.From.Addr, Name: m.From.Name}
	}
	if r := checkName(m.From.Name); r != "" {
		return bad("From.Name", r)
	}
	if r := checkAddr(m.To.Addr); r != "" {
		return bad("To.Addr", r)
	}
	if r := checkName(m.To.Name); r != "" {
		return bad("To.Name", r)
	}
	if m.ReplyTo.Addr != "" {
		if r := checkAddr(m.ReplyTo.Addr); r != "" {
			return bad("ReplyTo.Addr", r)
		}
	}
	if r := checkName(m.ReplyTo.Name); r != "" {
		return bad("ReplyTo.Name", r)
	}
	if m.ReplyTo.Addr == "" && m.ReplyTo.Name != "" {
		return bad("ReplyTo.Addr", "required with a name")
	}
	if strings.TrimSpace(m.Subject) == "" {
		return bad("Subject", "required")
	}
	if r := checkText(m.Subject); r != "" {
		return bad("Subject", r)
	}
	if utf8.RuneCountInString(m.Subject) > maxSubject {
		return bad("Subject", fmt.Sprintf("longer than %d characters", maxSubject))
	}
	if len(m.HTML) == 0 && len(m.Text) == 0 {
		return bad("Text", "a message needs a text or an HTML part")
	}
	if !utf8.Valid(m.HTML) {
		return bad("HTML", "not valid UTF-8")
	}
	if !utf8.Valid(m.Text) {
		return bad("Text", "not valid UTF-8")
	}
	names := make([]string, 0, len(m.Headers))
	for name, value := range m.Headers {
		field := "Headers[" + printableName(name) + "]"
		if !isFieldName(name) {
			return bad(field, "not a header field name (printable ASCII without colon)")
		}
		lower := strings.ToLower(name)
		if slices.Contains(refused, lower) {
			return bad(field, "never set: the letters are legal notices, not a mailing list")
		}
		if slices.Contains(reserved, lower) || strings.HasPrefix(lower, "resent-") {
			return bad(field, "set by the sender itself")
		}
		if r := checkText(value); r != "" {
			return bad(field, r)
		}
		if utf8.RuneCountInString(value) > maxHeader {
			return bad(field, fmt.Sprintf("longer than %d characters", maxHeader))
		}
		names = append(names, name)
	}
	slices.Sort(names)

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP))
	msg.FromMailAddress(&from)
	msg.ToMailAddress(&netmail.Address{Address: m.To.Addr, Name: m.To.Name})
	if m.ReplyTo.Addr != "" {
		msg.ReplyToMailAddress(&netmail.Address{Address: m.ReplyTo.Addr, Name: m.ReplyTo.Name})
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">"))
	msg.SetDate()
	// RFC 3834: automatic replies (holiday notices) are not to be sent back
	// to the Reply-To, the DPO's mailbox; Exchange reads its own header.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "OOF, AutoReply")
	for _, name := range names {
		msg.SetGenHeader(gomail.Header(name), m.Headers[name])
	}
	switch {
	case len(m.Text) > 0 && len(m.HTML) > 0:
		msg.SetBodyString(gomail.TypeTextPlain, string(m.Text))
		msg.AddAlternativeString(gomail.TypeTextHTML, string(m.HTML))
	case len(m.Text) > 0:
		msg.SetBodyString(gomail.TypeTextPlain, string(m.Text))
	default:
		msg.SetBodyString(gomail.TypeTextHTML, string(m.HTML))
	}
	return msg, m.To.Addr, nil
}

// checkAddr accepts a bare address (no display name, no angle brackets) that
// net/mail parses, with a domain. It returns "" or what is wrong, never the
// address.
func checkAddr(addr string) string {
	if addr == "" {
		return "required"
	}
	if r := checkText(addr); r != "" {
		return r
	}
	if len(addr) > 254 {
		return "longer than 254 characters"
	}
	a, err := netmail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "not a bare address name@domain"
	}
	if strings.LastIndexByte(addr, '@') <= 0 {
		return "not a bare address name@domain"
	}
	return ""
}

func checkName(name string) string {
	if r := checkText(name); r != "" {
		return r
	}
	if utf8.RuneCountInString(name) > maxName {
		return fmt.Sprintf("longer than %d characters", maxName)
	}
	return ""
}

// checkText refuses what could break a header: CR, LF and every other
// control character, Unicode line and paragraph separators, invalid UTF-8.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if strings.ContainsAny(s, "\r\n") {
		return "contains CR or LF (header injection refused)"
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) >= 0 {
		return "contains a control character"
	}
	return ""
}

func isMessageID(id string) bool {
	if len(id) < 5 || len(id) > 250 || id[0] != '<' || id[len(id)-1] != '>' {
		return false
	}
	inner := id[1 : len(id)-1]
	at := strings.IndexByte(inner, '@')
	if at <= 0 || at == len(inner)-1 || strings.Count(inner, "@") != 1 {
		return false
	}
	for i := 0; i < len(inner); i++ {
		b := inner[i]
		if b <= ' ' || b >= 0x7f || b == '<' || b == '>' || b == '"' || b == '\\' || b == '(' || b == ')' || b == ',' || b == ';' || b == ':' || b == '[' || b == ']' {
			return false
		}
	}
	return true
}

// isFieldName: RFC 5322 field-name, printable ASCII except colon.
func isFieldName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 33 || name[i] > 126 || name[i] == ':' {
			return false
		}
	}
	return true
}

// printableName shows a header name in an error: header names are not
// personal data, but a malformed one is shown escaped and cut.
func printableName(name string) string {
	q := fmt.Sprintf("%q", name)
	q = q[1 : len(q)-1]
	if len(q) > 40 {
		q = q[:40] + "…"
	}
	return q
}
