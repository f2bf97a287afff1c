// Package people reads the list of affected people an incident's DPO imports
// (CSV with a header, or JSON Lines; gzip accepted), normalises every field,
// and reports each rejected row by its line number and a reason, never by its
// content: the list is itself a copy of the breached data. It also generates
// synthetic populations for demos, drills and benchmarks (Generate).
//
// Input, as the reader sees it:
//
//   - gzip is recognised by its magic bytes, whatever the file is called;
//   - a UTF-8 byte order mark is skipped; UTF-16 (with a BOM) is refused with
//     the encoding named;
//   - CSV: RFC 4180 (quoted fields, "" for a quote), records ending in LF or
//     CRLF, empty lines skipped; the separator is ',' unless the header line
//     holds more ';' (French spreadsheets) or tabs;
//   - JSONL: one JSON object per line with string (or null) values;
//   - columns (CSV header names or JSON keys, case-insensitive, ' ' and '-'
//     read as '_'): email (required), name or first_name and last_name,
//     phone, language, account_id. Any other column is refused, with its name;
//   - encoding: UTF-8 is expected. A file that is not valid UTF-8 is read as
//     Windows-1252, which covers Latin-1 (ISO-8859-1) for every printable
//     character: spreadsheets on Windows save French names that way. The
//     choice is made once per file, at its first non-ASCII record, and
//     reported (Reader.Encoding); a record that is not valid UTF-8 after
//     earlier ones were, is rejected ("mixes encodings").
//
// Normalisation (see the Normalize* functions): names trimmed, inner white
// space collapsed, NFC; control characters (CR and LF above all: a name goes
// into a mail header) and invisible formatting characters refused; emails a
// single bare address (no display name), local part kept as written, domain
// lower-cased and IDNA-normalised to its ASCII form; phones to E.164 (French
// national numbers 0X XX XX XX XX to +33, overseas departments to their own
// country codes); language fr or en, fr by default.
//
// Limits (a field over its limit rejects the row as oversize): see the Max*
// constants.
package people

import (
	"fmt"

	"github.com/breach-engine/breach/internal/breach"
)

// Person is one normalised row.
type Person struct {
	Line      int64 // where the row starts in the file (1 is the CSV header)
	Email     string
	Name      string // "" when the file has none
	Phone     string // E.164, or ""
	Language  breach.Language
	AccountID string
}

// Format of an input file.
type Format string

// Formats.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// ParseFormat reads a format name; "" means detect.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "":
		return "", nil
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson", "json":
		return JSONL, nil
	}
	return "", fmt.Errorf("unknown format (csv or jsonl)")
}

// Limits, in bytes of the field as read unless stated otherwise.
const (
	MaxEmailBytes     = 254 // RFC 5321 path limit less the angle brackets
	MaxLocalPartBytes = 64
	MaxNameRunes      = 200 // after normalisation, first and last name together
	MaxPhoneBytes     = 32
	MaxAccountIDBytes = 128
	MaxLanguageBytes  = 16
	// MaxFieldBytes bounds any field before it is looked at: a longer one
	// rejects the row as oversize without being kept in memory.
	MaxFieldBytes = 1024
	// MaxRecordBytes bounds a CSV record or a JSON line.
	MaxRecordBytes = 8192
)

// RowError is a rejected row: the reader goes on with the next one. Reason
// names the column and the rule, never the value.
type RowError struct {
	Line   int64
	Reason string
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// FileError means the file cannot be read (on): a bad header, an encoding
// that is refused, a corrupt gzip stream. Line is where reading stopped.
type FileError struct {
	Line   int64
	Reason string
}

func (e *FileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }
