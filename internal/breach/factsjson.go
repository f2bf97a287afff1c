package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ParseFacts reads the facts document of `breach assess --json`. It is strict:
// every problem is a *Error of code ErrInvalid whose Field names the JSON field
// ("subjects", "data_categories[2]"), or is empty when the document as a whole
// is wrong. It rejects:
//   - empty input (or only whitespace), `null`, and `{}`: a document that
//     states no fact at all is almost certainly a mistake ("empty document");
//   - anything but a JSON object at the top, malformed JSON, and trailing data
//     after the object;
//   - unknown fields and fields given twice;
//   - wrong types (subjects as a string or a fraction, a boolean as a string,
//     a list that is not an array of strings);
//   - unknown enum values and duplicate values in a list (the lists are sets;
//     a duplicate is a mistake in the document, not a second fact);
//   - an empty list (omit the field when unknown) and subjects below 1.
//
// `null` for a field means the same as leaving it out: unknown.
func ParseFacts(r io.Reader) (Facts, error) {
	var f Facts
	dec := json.NewDecoder(r)
	dec.UseNumber()

	tok, err := dec.Token()
	if err == io.EOF {
		return f, Invalid("", "empty document: expected a JSON object of facts")
	}
	if err != nil {
		return f, syntaxError(err)
	}
	if tok == nil {
		return f, Invalid("", "empty document: expected a JSON object of facts, got null")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return f, Invalid("", "the facts document must be a JSON object")
	}

	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, syntaxError(err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return f, syntaxError(err)
		}
		if seen[key] {
			return f, Invalid(key, "given twice")
		}
		seen[key] = true
		if err := f.setField(key, raw); err != nil {
			return f, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return f, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, Invalid("", "trailing data after the JSON object")
	}
	if len(seen) == 0 {
		return f, Invalid("", "empty document: no facts given; state at least one (absent fields are unknown)")
	}
	if err := f.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return f, e // the first problem, like every other parse error
		}
		return f, err
	}
	return f, nil
}

func (f *Facts) setField(key string, raw json.RawMessage) error {
	var err error
	switch key {
	case "breach_types":
		f.BreachTypes, err = stringList[BreachType](key, raw)
	case "data_categories":
		f.DataCategories, err = stringList[DataCategory](key, raw)
	case "subjects":
		f.Subjects, err = count(key, raw)
	case "ease_of_identification":
		f.EaseOfIdentification, err = stringPtr[Ease](key, raw)
	case "recipients":
		f.Recipients, err = stringPtr[Recipients](key, raw)
	case "integrity_recoverable":
		f.IntegrityRecoverable, err = boolPtr(key, raw)
	case "availability_loss":
		f.AvailabilityLoss, err = stringPtr[AvailabilityLoss](key, raw)
	case "malicious":
		f.Malicious, err = boolPtr(key, raw)
	case "data_unintelligible":
		f.DataUnintelligible, err = boolPtr(key, raw)
	case "vulnerable_subjects":
		f.VulnerableSubjects, err = boolPtr(key, raw)
	case "backup_available":
		f.BackupAvailable, err = boolPtr(key, raw)
	default:
		return Invalid(key, "unknown field")
	}
	return err
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func stringList[T ~string](field string, raw json.RawMessage) ([]T, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, Invalid(field, "must be an array of strings")
	}
	out := make([]T, len(items))
	for i, item := range items {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || isNull(item) {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "must be a string")
		}
		out[i] = T(s)
	}
	return out, nil
}

func stringPtr[T ~string](field string, raw json.RawMessage) (*T, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, Invalid(field, "must be a string")
	}
	v := T(s)
	return &v, nil
}

func boolPtr(field string, raw json.RawMessage) (*bool, error) {
	if isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, Invalid(field, "must be true or false")
	}
	return &b, nil
}

func count(field string, raw json.RawMessage) (*int64, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Invalid(field, "must be a whole number")
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, Invalid(field, "must be a whole number, not a %s", jsonKind(v))
	}
	i, err := n.Int64()
	if err != nil {
		return nil, Invalid(field, "must be a whole number")
	}
	return &i, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value of another type"
}

func syntaxError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid("", "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return Invalid("", "malformed JSON: the document ends too early")
	}
	return Invalid("", "cannot read the document: %s", err.Error())
}
