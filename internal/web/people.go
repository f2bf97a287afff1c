package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/breach-engine/breach/internal/app"
	"github.com/breach-engine/breach/internal/breach"
	webui "github.com/breach-engine/breach/templates/web"
)

// peopleData gathers the people page: the progress of the letters, and the
// current letter of each language.
func (s *Server) peopleData(r *http.Request, in *info, id string) (webui.PeopleView, error) {
	iv, err := s.app.Incident(r.Context(), in.actor, id)
	if err != nil {
		return webui.PeopleView{}, err
	}
	st, err := s.app.PeopleStatus(r.Context(), in.actor, id)
	if err != nil {
		return webui.PeopleView{}, err
	}
	letters, err := s.app.Letters(r.Context(), in.actor, id)
	if err != nil {
		return webui.PeopleView{}, err
	}
	v := webui.PeopleView{
		Incident: iv.Incident, Counts: st.Counts, Total: st.Total, Done: st.Done,
		CanImport: in.actor.Role == breach.RoleDPO, Form: newForm(),
	}
	for _, lang := range []breach.Language{breach.French, breach.English} {
		var cur *breach.LetterVersion
		for i := range letters {
			if l := &letters[i]; l.Language == lang && (cur == nil || l.Version > cur.Version) {
				cur = l
			}
		}
		if cur != nil {
			v.Letters = append(v.Letters, webui.LetterView{Language: string(lang), Version: cur.Version, State: string(cur.State)})
		}
	}
	return v, nil
}

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request, in *info) {
	v, err := s.peopleData(r, in, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, webui.People(s.page(r, in.lang.T("people.title"), "register"), v))
}

func (s *Server) peopleStatus(w http.ResponseWriter, r *http.Request, in *info) {
	v, err := s.peopleData(r, in, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, webui.PeopleStatus(s.page(r, "", ""), v))
}

// importPeople streams the uploaded file into the import use case, and
// answers with its outcome: the counts and the rejected lines. htmx swaps it
// into the page; without script the whole page comes back.
func (s *Server) importPeople(w http.ResponseWriter, r *http.Request, in *info) {
	id := r.PathValue("id")
	if in.multipart == nil {
		s.errorPage(w, r, http.StatusBadRequest, in.lang.T("error.bad_form"))
		return
	}
	var opts app.ImportPeopleInput
	var res app.ImportPeopleResult
	err := errNoFile
	for {
		part, perr := in.multipart.NextPart()
		if perr == io.EOF {
			break
		}
		if perr != nil {
			err = breach.Invalid("file", "the upload was cut short")
			break
		}
		switch part.FormName() {
		case "skip_invalid":
			b, _ := io.ReadAll(io.LimitReader(part, 10))
			opts.SkipInvalid = string(b) == "true"
		case "file":
			res, err = s.app.ImportPeople(r.Context(), in.actor, id, part, opts)
		}
		if part.FormName() == "file" {
			break
		}
	}
	status := http.StatusOK
	out := webui.ImportView{
		OK: err == nil, Loaded: res.Loaded, Merged: res.Merged, Rejected: res.Rejected,
		Truncated: res.RejectsTruncated, Format: string(res.Format), Encoding: res.Encoding,
	}
	for _, rj := range res.Rejects {
		out.Rejects = append(out.Rejects, webui.Reject{Line: rj.Line, Reason: rj.Reason})
	}
	var de *breach.Error
	switch {
	case err == nil:
		out.Message = in.lang.T("people.imported", in.lang.Int(res.Loaded))
	case errors.Is(err, errNoFile):
		status, out.Message = http.StatusUnprocessableEntity, in.lang.T("people.no_file")
	case errors.As(err, &de) && de.Code == breach.ErrInvalid:
		status, out.Message = http.StatusUnprocessableEntity, in.lang.T("people.refused")+" "+in.lang.Field(de.Message)
	default:
		s.fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") != "" {
		s.render(w, r, status, webui.ImportResult(s.page(r, "", ""), out))
		return
	}
	v, verr := s.peopleData(r, in, id)
	if verr != nil {
		s.fail(w, r, verr)
		return
	}
	v.Import = &out
	s.render(w, r, status, webui.People(s.page(r, in.lang.T("people.title"), "register"), v))
}

var errNoFile = errors.New("no file in the upload")

// letterPreview serves the current letter in a language as a sample person
// receives it: a document with its own policy, in a sandboxed iframe.
func (s *Server) letterPreview(w http.ResponseWriter, r *http.Request, in *info) {
	version, _ := strconv.Atoi(r.URL.Query().Get("version"))
	p, err := s.app.PreviewLetter(r.Context(), in.actor, r.PathValue("id"), breach.Language(r.PathValue("lang")), version, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", dossierCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(p.HTML)
}
