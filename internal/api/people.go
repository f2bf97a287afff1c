package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/people"
)

// maxImportBody bounds an import file as sent (gzip or not): 4.8 million
// people in CSV are about 600 MB.
const maxImportBody = 16 << 30

// importFailure is the answer to an import refused for its rows: the error
// and what was found, so the client can write the rejects out.
type importFailure struct {
	Error *breach.Error `json:"error"`
	app.ImportPeopleResult
}

// importPeople streams the request body (the raw CSV, JSONL or gzip file)
// into the incident's people. Query: format=csv|jsonl (default: detect),
// skip_invalid=true to load the valid rows when some are rejected.
func (s *Server) importPeople(w http.ResponseWriter, r *http.Request, actor breach.Actor) {
	q := r.URL.Query()
	format, err := people.ParseFormat(q.Get("format"))
	if err != nil {
		writeError(w, s.Logger, breach.Invalid("format", "must be csv or jsonl"))
		return
	}
	skip := false
	if v := q.Get("skip_invalid"); v != "" {
		if skip, err = strconv.ParseBool(v); err != nil {
			writeError(w, s.Logger, breach.Invalid("skip_invalid", "must be true or false"))
			return
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxImportBody)
	res, err := s.App.ImportPeople(r.Context(), actor, r.PathValue("id"), body, app.ImportPeopleInput{Format: format, SkipInvalid: skip})
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = breach.Invalid("file", "larger than %d bytes", int64(maxImportBody))
	}
	var de *breach.Error
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.As(err, &de) && de.Code == breach.ErrInvalid && res.Rejected > 0:
		writeJSON(w, http.StatusBadRequest, importFailure{Error: de, ImportPeopleResult: res})
	default:
		writeError(w, s.Logger, err)
	}
}
