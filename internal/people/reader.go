package people

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Encodings the reader reports.
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252"
)

// Reader streams normalised people from a file. It holds one record at a
// time: memory does not grow with the file.
type Reader struct {
	format     Format
	compressed bool
	enc        encoding
	next       func() (Raw, error)
	gz         *gzip.Reader
	done       bool
}

// NewReader reads the start of the input: gzip magic bytes, a byte order
// mark, the format (when format is ""), and the CSV header. Errors are
// *FileError (line and reason) or the input's read errors.
func NewReader(r io.Reader, format Format) (*Reader, error) {
	pr := &Reader{}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FileError{Line: 0, Reason: "the gzip header is corrupt"}
		}
		pr.gz, pr.compressed = gz, true
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, pr.readErr(0, err)
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, &FileError{Line: 1, Reason: "the file is UTF-16; save it as UTF-8 (CSV UTF-8 in a spreadsheet)"}
	}
	if format == "" {
		format = detectFormat(br)
	}
	pr.format = format
	switch format {
	case CSV:
		c, err := newCSV(br, &pr.enc)
		if err != nil {
			return nil, pr.wrapErr(err)
		}
		pr.next = c.next
	case JSONL:
		j := &jsonlReader{br: br, enc: &pr.enc}
		pr.next = j.next
	default:
		return nil, &FileError{Line: 0, Reason: fmt.Sprintf("unknown format %q (csv or jsonl)", format)}
	}
	return pr, nil
}

// detectFormat: a first non-blank byte '{' is JSON Lines, anything else CSV.
func detectFormat(br *bufio.Reader) Format {
	head, _ := br.Peek(512)
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return JSONL
	}
	return CSV
}

// Format is the file's format, as given or detected.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the input was gzip.
func (r *Reader) Compressed() bool { return r.compressed }

// Encoding is the text encoding the file was read as: utf-8, or
// windows-1252 once a record showed the file is not UTF-8.
func (r *Reader) Encoding() string {
	if r.enc.mode == modeCP1252 {
		return EncodingWindows1252
	}
	return EncodingUTF8
}

// Next returns the next person. A rejected row is a *RowError: call Next
// again for the following one. io.EOF ends the file; any other error (a
// *FileError, a read error) ends reading.
func (r *Reader) Next() (Person, error) {
	raw, err := r.NextRaw()
	if err != nil {
		return Person{}, err
	}
	return raw.Normalize()
}

// Raw is a row as read from the file (its record split into fields, its
// encoding checked and converted), not yet normalised.
type Raw struct {
	line int64
	rp   rawPerson
	json []byte // a JSON Lines row: decoded by Normalize
	err  *RowError
}

// Line is where the row starts in the file.
func (r *Raw) Line() int64 { return r.line }

// Normalize checks and normalises the row as Next does: the person, or a
// *RowError. It depends on nothing but the row, so rows may be normalised on
// other goroutines than the one reading the file (the import does so on
// every core).
func (r *Raw) Normalize() (Person, error) {
	if r.err != nil {
		return Person{}, r.err
	}
	if r.json != nil {
		return decodeJSONRow(r.line, r.json)
	}
	return r.rp.normalize(r.line)
}

// Rejected is a row the reader refused, as a Raw whose Normalize returns
// that refusal: it keeps its place among the rows normalised elsewhere.
func Rejected(e *RowError) Raw { return Raw{line: e.Line, err: e} }

// NextRaw is Next without the normalisation: the next row as read, with
// the same errors (a row the reader itself rejects, such as a wrong column
// count or bad quoting, is a *RowError).
func (r *Reader) NextRaw() (Raw, error) {
	if r.done {
		return Raw{}, io.EOF
	}
	raw, err := r.next()
	if err != nil {
		var re *RowError
		if errors.As(err, &re) {
			return Raw{}, re
		}
		r.done = true
		if errors.Is(err, io.EOF) {
			return Raw{}, io.EOF
		}
		return Raw{}, r.wrapErr(err)
	}
	return raw, nil
}

// All iterates over the file: each person with a nil error, each rejected
// row with its *RowError, and a last fatal error if reading stopped early.
func (r *Reader) All() iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		for {
			p, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(p, err) {
				return
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				return
			}
		}
	}
}

// lineErr carries the line at which a read error happened.
type lineErr struct {
	line int64
	err  error
}

func (e *lineErr) Error() string { return e.err.Error() }
func (e *lineErr) Unwrap() error { return e.err }

// wrapErr turns decompression errors into a *FileError; other read errors
// (the network, the disk) pass through.
func (r *Reader) wrapErr(err error) error {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe
	}
	var le *lineErr
	line := int64(0)
	if errors.As(err, &le) {
		line, err = le.line, le.err
	}
	return r.readErr(line, err)
}

func (r *Reader) readErr(line int64, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case r.compressed && (errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt)):
		return &FileError{Line: line, Reason: "the gzip stream is corrupt"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FileError{Line: line, Reason: "the file ends unexpectedly (truncated)"}
	}
	return err
}

// encoding decides, once per file, how to read bytes that are not ASCII.
type encoding struct {
	mode int
}

const (
	modeUndecided = iota
	modeUTF8
	modeCP1252
)

var cp1252 = charmap.Windows1252

// check looks at a record's raw bytes and reports whether its fields must
// be converted from Windows-1252. The first record with non-ASCII bytes
// decides: valid UTF-8 makes the file UTF-8, anything else Windows-1252.
func (e *encoding) check(raw []byte) (convert bool, err error) {
	if isASCIIBytes(raw) {
		return false, nil
	}
	valid := utf8.Valid(raw)
	switch e.mode {
	case modeUndecided:
		if valid {
			e.mode = modeUTF8
			return false, nil
		}
		e.mode = modeCP1252
		return true, nil
	case modeUTF8:
		if !valid {
			return false, reason("not valid UTF-8, unlike the lines before it (the file mixes encodings)")
		}
		return false, nil
	}
	return true, nil
}

// text returns a field as a string, converted when the file is Windows-1252.
func (e *encoding) text(b []byte, convert bool) string {
	if !convert || isASCIIBytes(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	dec := cp1252.DecodeByte
	for _, c := range b {
		sb.WriteRune(dec(c))
	}
	return sb.String()
}

// isASCIIBytes looks at eight bytes at a time: it runs on every record.
func isASCIIBytes(b []byte) bool {
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or&0x8080808080808080 == 0
}
