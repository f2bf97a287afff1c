// Package i18n is the web pages' message catalogue, in French and English,
// and the choice of language for a request: the account's preference first,
// then the browser's Accept-Language, then French (the engine's home
// authority is the CNIL).
//
// Keys are short dotted names ("nav.register"); codes of the domain have keys
// built from their kind and value ("risk.high", "data.health"), so that a page
// names any code through Code. A key missing from the catalogue shows as the
// key itself: visible, never blank. The tests check that both languages are
// complete and that every key the pages use exists.
package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris on machines without a zoneinfo database
)

// Lang is a language of the pages.
type Lang string

const (
	FR Lang = "fr"
	EN Lang = "en"
)

// Langs lists the languages, French first.
var Langs = []Lang{FR, EN}

// Valid reports whether l is a language of the catalogue.
func (l Lang) Valid() bool { return l == FR || l == EN }

// Paris is the zone every time is shown in (DESIGN.md: stored in UTC, shown in Europe/Paris).
var Paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// T returns the message of key in l, formatted with args when there are any.
func (l Lang) T(key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m.en
	if l == FR {
		s = m.fr
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Code names a domain code: Code("risk", "high") is the message "risk.high",
// or the code itself when the catalogue does not know it.
func (l Lang) Code(kind, code string) string {
	if code == "" {
		return ""
	}
	key := kind + "." + code
	if _, ok := messages[key]; !ok {
		return code
	}
	return l.T(key)
}

// Has reports whether the catalogue has key.
func Has(key string) bool {
	_, ok := messages[key]
	return ok
}

// Keys lists every key of the catalogue.
func Keys() []string {
	out := make([]string, 0, len(messages))
	for k := range messages {
		out = append(out, k)
	}
	return out
}

// Message returns both texts of a key, for the completeness tests.
func Message(key string) (fr, en string, ok bool) {
	m, ok := messages[key]
	return m.fr, m.en, ok
}

// Negotiate picks the language: the account's preference when it is one of
// ours, else the first language of the Accept-Language header (by quality)
// that we have, else French.
func Negotiate(preference, acceptLanguage string) Lang {
	if l := Lang(preference); l.Valid() {
		return l
	}
	best, bestQ := Lang(""), -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if l := Lang(primary); l.Valid() && q > bestQ && q > 0 {
			best, bestQ = l, q
		}
	}
	if best != "" {
		return best
	}
	return FR
}

// Time shows t in Paris time: "25/11/2026 10:04" or "25 Nov 2026 10:04".
func (l Lang) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(Paris)
	if l == FR {
		return t.Format("02/01/2006 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// TimePtr is Time for an optional time.
func (l Lang) TimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return l.Time(*t)
}

// Remaining says how long until due from now, in days, hours and minutes,
// or how long ago it passed: the text the countdown script keeps current.
func (l Lang) Remaining(due, now time.Time) string {
	d := due.Sub(now)
	late := d < 0
	if late {
		d = -d
	}
	d = d.Truncate(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	dayUnit := "d"
	if l == FR {
		dayUnit = "j"
	}
	var s string
	switch {
	case days > 0:
		s = fmt.Sprintf("%d %s %d h %02d min", days, dayUnit, hours, mins)
	case hours > 0:
		s = fmt.Sprintf("%d h %02d min", hours, mins)
	default:
		s = fmt.Sprintf("%d min", mins)
	}
	if late {
		return l.T("countdown.overdue", s)
	}
	return l.T("countdown.left", s)
}

// Int writes a count with the language's thousands separator.
func (l Lang) Int(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if l == FR {
		sep = "\u202f" // narrow no-break space
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Field translates the message of a domain validation error. The domain's
// messages are English and name the field, never its value; the common ones
// have a French text, the others are shown as they are.
func (l Lang) Field(msg string) string {
	if l == EN || msg == "" {
		return msg
	}
	if fr, ok := fieldMessages[msg]; ok {
		return fr
	}
	for prefix, fr := range fieldPrefixes {
		if strings.HasPrefix(msg, prefix) {
			return fr
		}
	}
	return msg
}
