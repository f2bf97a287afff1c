package people

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// column is a known column of the input.
type column int

const (
	colEmail column = iota
	colName
	colFirstName
	colLastName
	colPhone
	colLanguage
	colAccountID
	numColumns
)

var columnNames = [numColumns]string{"email", "name", "first_name", "last_name", "phone", "language", "account_id"}

var knownColumns = "email, name or first_name and last_name, phone, language, account_id"

func lookupColumn(name string) (column, bool) {
	for i, n := range columnNames {
		if n == name {
			return column(i), true
		}
	}
	return 0, false
}

// headerName normalises a header name: trimmed, lower case, ' ' and '-' as '_'.
func headerName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}

// shownName quotes a header name for an error message. The name is the
// file's, not a person's, unless the header is missing and the first line is
// data: then the message says so instead of quoting it.
func shownName(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func looksLikeData(s string) bool {
	digits := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	return strings.Contains(s, "@") || digits >= 3
}

// csvReader is an RFC 4180 reader that keeps one record, bounded in size, and
// knows the line each record starts on.
type csvReader struct {
	br    *bufio.Reader
	comma byte
	line  int64 // newlines consumed so far
	enc   *encoding

	buf     []byte
	ends    []int // end offset in buf of each stored field
	nfields int   // fields in the record, stored or not

	cols []column // column of each header field
	seen [numColumns]bool
}

func newCSV(br *bufio.Reader, enc *encoding) (*csvReader, error) {
	c := &csvReader{br: br, enc: enc, comma: detectComma(br)}
	start, bad, err := c.readRecord(0)
	switch {
	case errors.Is(err, io.EOF):
		return nil, &FileError{Line: 1, Reason: "the file is empty: a header line is expected (" + knownColumns + ")"}
	case err != nil:
		return nil, err
	case bad != "":
		return nil, &FileError{Line: start, Reason: "header: " + bad}
	}
	if start != 1 {
		return nil, &FileError{Line: 1, Reason: "the file starts with an empty line: the header must be the first line"}
	}
	if c.nfields > len(c.ends) {
		return nil, &FileError{Line: 1, Reason: fmt.Sprintf("the header has %d columns (columns: %s)", c.nfields, knownColumns)}
	}
	for i := 0; i < c.nfields; i++ {
		raw := c.field(i)
		if bytes.IndexByte(raw, 0) >= 0 {
			return nil, &FileError{Line: 1, Reason: "the header holds NUL bytes: is the file UTF-16? Save it as UTF-8"}
		}
		if bytes.IndexByte(raw, '\r') >= 0 {
			return nil, &FileError{Line: 1, Reason: "lines end with a lone CR: save the file with LF or CRLF line ends"}
		}
		name := headerName(string(raw))
		col, ok := lookupColumn(name)
		switch {
		case !ok && looksLikeData(name):
			return nil, &FileError{Line: 1, Reason: "the header is missing: the first line looks like data (columns: " + knownColumns + ")"}
		case !ok:
			return nil, &FileError{Line: 1, Reason: "unknown column " + shownName(name) + " (columns: " + knownColumns + ")"}
		case c.seen[col]:
			return nil, &FileError{Line: 1, Reason: "column " + shownName(name) + " appears twice"}
		}
		c.seen[col] = true
		c.cols = append(c.cols, col)
	}
	switch {
	case !c.seen[colEmail]:
		return nil, &FileError{Line: 1, Reason: "the header has no email column (columns: " + knownColumns + ")"}
	case c.seen[colName] && (c.seen[colFirstName] || c.seen[colLastName]):
		return nil, &FileError{Line: 1, Reason: "the header has name and first_name/last_name: use one or the other"}
	}
	return c, nil
}

// detectComma picks the separator from the first line: ',' unless ';' (French
// spreadsheets) or tab is more frequent.
func detectComma(br *bufio.Reader) byte {
	head, _ := br.Peek(MaxRecordBytes)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	commas, semis, tabs := bytes.Count(head, []byte{','}), bytes.Count(head, []byte{';'}), bytes.Count(head, []byte{'\t'})
	switch {
	case semis > commas && semis >= tabs:
		return ';'
	case tabs > commas && tabs > semis:
		return '\t'
	}
	return ','
}

func (c *csvReader) field(i int) []byte {
	from := 0
	if i > 0 {
		from = c.ends[i-1]
	}
	return c.buf[from:c.ends[i]]
}

const (
	stFieldStart = iota
	stUnquoted
	stQuoted
	stQuoteInQuoted // a quote inside a quoted field: closing, or the first of ""
	stCRAfterQuote  // CR after a closing quote: LF must follow
	stSkip          // a bad record: skip to the end of its line
)

// readRecord reads the next record into buf/ends. It returns the line the
// record starts on and, for a bad record, the reason (the record has then
// been skipped to its end). io.EOF means no record was left. Empty lines are
// skipped. Fields longer than MaxFieldBytes are not stored, only reported.
func (c *csvReader) readRecord(ncols int) (start int64, bad string, err error) {
	c.buf, c.ends, c.nfields = c.buf[:0], c.ends[:0], 0
	start = c.line + 1
	state := stFieldStart
	fieldStart, fieldOver, quoted := 0, false, false
	maxStored := ncols + 1
	if ncols == 0 {
		maxStored = 64
	}

	setBad := func(msg string) {
		if bad == "" {
			bad = msg
		}
	}
	endField := func() {
		if fieldOver {
			name := fmt.Sprintf("field %d", c.nfields+1)
			if c.nfields < len(c.cols) {
				name = columnNames[c.cols[c.nfields]]
			}
			setBad(fmt.Sprintf("%s: oversize field (longer than %d bytes)", name, MaxFieldBytes))
		}
		if c.nfields < maxStored {
			c.ends = append(c.ends, len(c.buf))
		} else {
			c.buf = c.buf[:fieldStart] // not stored: only counted
		}
		c.nfields++
		fieldStart, fieldOver = len(c.buf), false
	}
	add := func(b byte) {
		if len(c.buf)-fieldStart >= MaxFieldBytes || len(c.buf) >= MaxRecordBytes {
			fieldOver = true
			return
		}
		c.buf = append(c.buf, b)
	}
	// addRun adds the bytes of chunk from i that are plain text in the
	// current state (no separator, quote or line end) at once, and returns
	// the index of the last one: most of a file is such runs, and a byte
	// at a time through the state machine was most of the reading's cost.
	// Of a run that would pass a size limit, what fits is stored, as add
	// would, and the field is marked: the record is rejected as oversize
	// (endField).
	addRun := func(chunk []byte, i int, quotedRun bool) int {
		j := i + 1
		if quotedRun {
			for j < len(chunk) && chunk[j] != '"' && chunk[j] != '\n' {
				j++
			}
		} else {
			for j < len(chunk) && chunk[j] != c.comma && chunk[j] != '"' && chunk[j] != '\n' {
				j++
			}
		}
		if n := j - i; len(c.buf)-fieldStart+n > MaxFieldBytes || len(c.buf)+n > MaxRecordBytes {
			fit := max(0, min(MaxFieldBytes-(len(c.buf)-fieldStart), MaxRecordBytes-len(c.buf)))
			c.buf = append(c.buf, chunk[i:i+fit]...)
			fieldOver = true
			return j - 1
		}
		c.buf = append(c.buf, chunk[i:j]...)
		return j - 1
	}
	// endLine ends the record at an LF (a CR before it belongs to CRLF); an
	// empty line is skipped and reading goes on.
	endLine := func() (done bool) {
		if state == stUnquoted && len(c.buf) > fieldStart && c.buf[len(c.buf)-1] == '\r' {
			c.buf = c.buf[:len(c.buf)-1]
		}
		if c.nfields == 0 && !quoted && len(c.buf) == 0 && !fieldOver {
			start, state = c.line+1, stFieldStart
			return false
		}
		endField()
		return true
	}

	for {
		chunk, rerr := c.br.ReadSlice('\n')
		if state == stFieldStart && c.nfields == 0 && len(c.buf) == 0 && rerr == nil &&
			len(chunk) <= MaxFieldBytes && bytes.IndexByte(chunk, '"') < 0 {
			// The usual record: a whole line, no quotes, short enough that
			// no limit can be reached. Split at the separators at once; the
			// state machine below does the same a byte at a time.
			c.line++
			line := chunk[:len(chunk)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1] // CRLF
			}
			if len(line) == 0 {
				start = c.line + 1 // an empty line is skipped
				continue
			}
			for {
				j := bytes.IndexByte(line, c.comma)
				if j < 0 {
					c.buf = append(c.buf, line...)
					endField()
					return start, bad, nil
				}
				c.buf = append(c.buf, line[:j]...)
				endField()
				line = line[j+1:]
			}
		}
		for i := 0; i < len(chunk); i++ {
			b := chunk[i]
			if b == '\n' {
				c.line++
			}
			switch state {
			case stFieldStart:
				switch b {
				case '"':
					state, quoted = stQuoted, true
				case c.comma:
					endField()
				case '\n':
					if endLine() {
						return start, bad, nil
					}
				default:
					i = addRun(chunk, i, false)
					state = stUnquoted
				}
			case stUnquoted:
				switch b {
				case c.comma:
					endField()
					state = stFieldStart
				case '\n':
					if endLine() {
						return start, bad, nil
					}
					state = stFieldStart
				case '"':
					setBad("bad quoting: a quote inside an unquoted field (quote the field and double the quote)")
					state = stSkip
				default:
					i = addRun(chunk, i, false)
				}
			case stQuoted:
				switch b {
				case '"':
					state = stQuoteInQuoted
				case '\n':
					add(b)
				default:
					i = addRun(chunk, i, true)
				}
			case stQuoteInQuoted:
				switch b {
				case '"':
					add('"')
					state = stQuoted
				case c.comma:
					endField()
					state = stFieldStart
				case '\n':
					endField()
					return start, bad, nil
				case '\r':
					state = stCRAfterQuote
				default:
					setBad("bad quoting: text after a closing quote")
					state = stSkip
				}
			case stCRAfterQuote:
				if b == '\n' {
					endField()
					return start, bad, nil
				}
				setBad("bad quoting: text after a closing quote")
				state = stSkip
			case stSkip:
				if b == '\n' {
					return start, bad, nil
				}
			}
		}
		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			switch state {
			case stFieldStart:
				if c.nfields == 0 {
					return start, "", io.EOF
				}
				endField()
			case stUnquoted:
				if len(c.buf) > fieldStart && c.buf[len(c.buf)-1] == '\r' {
					c.buf = c.buf[:len(c.buf)-1]
				}
				if c.nfields == 0 && len(c.buf) == 0 {
					return start, "", io.EOF
				}
				endField()
			case stQuoted:
				setBad("bad quoting: a quoted field is never closed")
			case stQuoteInQuoted, stCRAfterQuote:
				endField()
			}
			return start, bad, nil
		default:
			return start, "", &lineErr{line: c.line + 1, err: rerr}
		}
	}
}

func (c *csvReader) next() (Raw, error) {
	start, bad, err := c.readRecord(len(c.cols))
	if err != nil {
		return Raw{}, err
	}
	if bad != "" {
		return Raw{}, &RowError{Line: start, Reason: bad}
	}
	if c.nfields != len(c.cols) {
		return Raw{}, &RowError{Line: start, Reason: fmt.Sprintf("wrong column count: %d fields, the header has %d", c.nfields, len(c.cols))}
	}
	convert, err := c.enc.check(c.buf)
	if err != nil {
		return Raw{}, &RowError{Line: start, Reason: reasonOf(err)}
	}
	var rp rawPerson
	if convert {
		for i, col := range c.cols {
			rp.set(col, c.enc.text(c.field(i), true))
		}
	} else {
		// One string for the record; the fields are slices of it.
		rec := string(c.buf)
		from := 0
		for i, col := range c.cols {
			rp.set(col, rec[from:c.ends[i]])
			from = c.ends[i]
		}
	}
	rp.hasName, rp.hasFirstLast = c.seen[colName], c.seen[colFirstName] || c.seen[colLastName]
	return Raw{line: start, rp: rp}, nil
}

// rawPerson is a row's fields as read, before normalisation.
type rawPerson struct {
	f                     [numColumns]string
	hasName, hasFirstLast bool
}

func (rp *rawPerson) set(col column, v string) { rp.f[col] = v }

func (rp *rawPerson) normalize(line int64) (Person, error) {
	p := Person{Line: line}
	var err error
	fail := func(err error) (Person, error) {
		return Person{}, &RowError{Line: line, Reason: reasonOf(err)}
	}
	if p.Email, err = NormalizeEmail(rp.f[colEmail]); err != nil {
		return fail(err)
	}
	if rp.hasFirstLast {
		p.Name, err = JoinName(rp.f[colFirstName], rp.f[colLastName])
	} else {
		p.Name, err = NormalizeName(rp.f[colName])
	}
	if err != nil {
		return fail(err)
	}
	if p.Phone, err = NormalizePhone(rp.f[colPhone]); err != nil {
		return fail(err)
	}
	if p.Language, err = NormalizeLanguage(rp.f[colLanguage]); err != nil {
		return fail(err)
	}
	if p.AccountID, err = NormalizeAccountID(rp.f[colAccountID]); err != nil {
		return fail(err)
	}
	return p, nil
}
