package people

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonlReader reads one JSON object per line.
type jsonlReader struct {
	br   *bufio.Reader
	enc  *encoding
	line int64
	buf  []byte
}

// jsonRow is one line; keys match case-insensitively (encoding/json).
type jsonRow struct {
	Email     *string `json:"email"`
	Name      *string `json:"name"`
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	Phone     *string `json:"phone"`
	Language  *string `json:"language"`
	AccountID *string `json:"account_id"`
}

// readLine reads the next line into buf (without its LF), keeping at most
// MaxRecordBytes of it; over reports a longer line.
func (j *jsonlReader) readLine() (over bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, rerr := j.br.ReadSlice('\n')
		if n := len(chunk); n > 0 && chunk[n-1] == '\n' {
			chunk = chunk[:n-1]
		}
		if len(j.buf)+len(chunk) > MaxRecordBytes {
			over = true
		} else {
			j.buf = append(j.buf, chunk...)
		}
		switch {
		case rerr == nil:
			j.line++
			return over, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			if len(j.buf) == 0 && !over {
				return false, io.EOF
			}
			j.line++
			return over, nil
		default:
			return false, &lineErr{line: j.line + 1, err: rerr}
		}
	}
}

func (j *jsonlReader) next() (Raw, error) {
	for {
		over, err := j.readLine()
		if err != nil {
			return Raw{}, err
		}
		line := j.line
		if over {
			return Raw{}, &RowError{Line: line, Reason: fmt.Sprintf("oversize line (longer than %d bytes)", MaxRecordBytes)}
		}
		raw := bytes.TrimSpace(j.buf)
		if len(raw) == 0 {
			continue
		}
		convert, err := j.enc.check(raw)
		if err != nil {
			return Raw{}, &RowError{Line: line, Reason: reasonOf(err)}
		}
		if convert {
			raw = []byte(j.enc.text(raw, true))
		} else {
			raw = bytes.Clone(raw) // j.buf is reused for the next line
		}
		return Raw{line: line, json: raw}, nil
	}
}

func decodeJSONRow(line int64, raw []byte) (Person, error) {
	if raw[0] != '{' {
		return Person{}, &RowError{Line: line, Reason: "not a JSON object"}
	}
	var jr jsonRow
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jr); err != nil {
		return Person{}, &RowError{Line: line, Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Person{}, &RowError{Line: line, Reason: "text after the JSON object"}
	}
	var rp rawPerson
	vals := [numColumns]*string{
		colEmail: jr.Email, colName: jr.Name, colFirstName: jr.FirstName, colLastName: jr.LastName,
		colPhone: jr.Phone, colLanguage: jr.Language, colAccountID: jr.AccountID,
	}
	for col, v := range vals {
		if v != nil {
			if len(*v) > MaxFieldBytes {
				return Person{}, &RowError{Line: line, Reason: fmt.Sprintf("%s: oversize field (longer than %d bytes)", columnNames[col], MaxFieldBytes)}
			}
			rp.set(column(col), *v)
		}
	}
	rp.hasName = jr.Name != nil
	rp.hasFirstLast = jr.FirstName != nil || jr.LastName != nil
	if rp.hasName && rp.hasFirstLast {
		return Person{}, &RowError{Line: line, Reason: "name and first_name/last_name: use one or the other"}
	}
	return rp.normalize(line)
}

// jsonReason names the field of a JSON error, never its value.
func jsonReason(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if _, ok := lookupColumn(strings.ToLower(typeErr.Field)); ok {
			return strings.ToLower(typeErr.Field) + ": must be a string"
		}
		return "a value has the wrong type: strings are expected"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the object is not closed"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		if looksLikeData(name) {
			return "unknown field (columns: " + knownColumns + ")"
		}
		return "unknown field " + shownName(name) + " (columns: " + knownColumns + ")"
	}
	return "malformed JSON"
}
