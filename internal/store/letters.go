package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

// Letters to the people concerned (Art. 34), one per language, versioned and
// approved under four-eyes like the regulator dossier (drafts.go).

const letterColumns = `id::text, incident_id::text, language, version, state, fields, drafted_by, edited_by,
	created_at, content_hash, coalesce(approved_by, ''), approved_at, comment, kind`

func scanLetter(row pgx.Row) (breach.LetterVersion, error) {
	var l breach.LetterVersion
	var lang, state, kind string
	var fields []byte
	err := row.Scan(&l.ID, &l.IncidentID, &lang, &l.Version, &state, &fields, &l.DraftedBy, &l.EditedBy,
		&l.CreatedAt, &l.ContentHash, &l.ApprovedBy, &l.ApprovedAt, &l.Comment, &kind)
	if err != nil {
		return l, err
	}
	// The fields' shape depends on the kind: a reminder's are not a notice's.
	l.Kind = breach.LetterKind(kind)
	if l.Kind == breach.LetterReminder {
		l.Reminder = new(breach.ReminderFields)
		err = json.Unmarshal(fields, l.Reminder)
	} else {
		err = json.Unmarshal(fields, &l.Fields)
	}
	if err != nil {
		return l, fmt.Errorf("decode letter fields: %w", err)
	}
	l.Language, l.State = breach.Language(lang), breach.LetterState(state)
	l.CreatedAt, l.ApprovedAt = utc(l.CreatedAt), utcPtr(l.ApprovedAt)
	return l, nil
}

// LetterSlot is where the next version of a letter goes, as resolved by
// PrepareLetter.
type LetterSlot struct {
	IncidentID string
	Kind       breach.LetterKind
	Language   breach.Language
	Version    int
	DraftedBy  string // who wrote version 1: kept across versions (four-eyes)
	Previous   *breach.LetterVersion
	Incident   breach.Incident // as locked by PrepareLetter
}

// PrepareLetter checks that a new version of the letter in lang may be
// written on top of baseVersion (0: the first one) and says where it goes. It
// locks the incident until the transaction ends. A letter may not change
// while a send is active: what is sent is what was approved.
func (t *Tx) PrepareLetter(ctx context.Context, actor breach.Actor, incidentID string, lang breach.Language, baseVersion int) (LetterSlot, error) {
	return t.PrepareLetterOf(ctx, actor, breach.LetterNotice, incidentID, lang, baseVersion)
}

// PrepareLetterOf is PrepareLetter for a letter of the given kind: a
// reminder may not change while a reminder send is active.
func (t *Tx) PrepareLetterOf(ctx context.Context, actor breach.Actor, kind breach.LetterKind, incidentID string, lang breach.Language, baseVersion int) (LetterSlot, error) {
	slot := LetterSlot{IncidentID: incidentID, Kind: kind, Language: lang, DraftedBy: actor.UserID}
	if !kind.Valid() {
		return slot, breach.Invalid("kind", "must be notice or reminder")
	}
	if lang != breach.French && lang != breach.English {
		return slot, breach.Invalid("language", "must be fr or en")
	}
	if baseVersion < 0 {
		return slot, breach.Invalid("base_version", "must not be negative")
	}
	inc, err := t.Incident(ctx, incidentID)
	if err != nil {
		return slot, err
	}
	if inc.State == breach.StateClosed {
		return slot, closedConflict()
	}
	slot.Incident = inc
	if active, err := activeSendOf(ctx, t.tx, incidentID, kind); err != nil {
		return slot, err
	} else if active != nil {
		return slot, breach.Errorf(breach.ErrConflict, "send %d is %s: letters may not change while it is active", active.Seq, active.State)
	}
	latest, err := latestLetterOf(ctx, t.tx, incidentID, kind, lang, true)
	if err != nil {
		return slot, err
	}
	switch {
	case latest == nil && baseVersion != 0:
		return slot, breach.Errorf(breach.ErrConflict, "letter has no version %d", baseVersion)
	case latest != nil && baseVersion != latest.Version:
		return slot, breach.Errorf(breach.ErrConflict, "version %d is not the current version (%d)", baseVersion, latest.Version)
	}
	if latest != nil {
		slot.DraftedBy = latest.DraftedBy
	}
	slot.Previous = latest
	slot.Version = baseVersion + 1
	return slot, nil
}

// SaveLetterVersion stores a new version as pending, supersedes the version
// it replaces and audits "letter.saved".
func (t *Tx) SaveLetterVersion(ctx context.Context, actor breach.Actor, slot LetterSlot, fields breach.LetterFields, contentHash string) (breach.LetterVersion, error) {
	if slot.Kind != breach.LetterNotice && slot.Kind != "" {
		return breach.LetterVersion{}, breach.Invalid("kind", "notice fields for a %s", slot.Kind)
	}
	return t.saveLetterVersion(ctx, actor, slot, fields, contentHash)
}

// SaveReminderVersion is SaveLetterVersion for a reminder ("letter.saved",
// with the kind).
func (t *Tx) SaveReminderVersion(ctx context.Context, actor breach.Actor, slot LetterSlot, fields breach.ReminderFields, contentHash string) (breach.LetterVersion, error) {
	if slot.Kind != breach.LetterReminder {
		return breach.LetterVersion{}, breach.Invalid("kind", "reminder fields for a %s", slot.Kind)
	}
	return t.saveLetterVersion(ctx, actor, slot, fields, contentHash)
}

func (t *Tx) saveLetterVersion(ctx context.Context, actor breach.Actor, slot LetterSlot, fields any, contentHash string) (breach.LetterVersion, error) {
	if slot.Kind == "" {
		slot.Kind = breach.LetterNotice
	}
	if contentHash == "" {
		return breach.LetterVersion{}, breach.Invalid("fields", "the letter cannot be rendered")
	}
	if slot.Previous != nil {
		if _, err := t.tx.Exec(ctx, `UPDATE letter_versions SET state = 'superseded' WHERE id = $1`, slot.Previous.ID); err != nil {
			return breach.LetterVersion{}, err
		}
	}
	l, err := scanLetter(t.tx.QueryRow(ctx, `
		INSERT INTO letter_versions (incident_id, language, version, state, fields, drafted_by, edited_by, created_at, content_hash, kind)
		VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9)
		RETURNING `+letterColumns,
		slot.IncidentID, string(slot.Language), slot.Version, fields, slot.DraftedBy, actor.UserID, t.Now(), contentHash, string(slot.Kind)))
	if err != nil {
		return l, mapErr(err)
	}
	var before any
	if slot.Previous != nil {
		before = map[string]any{"letter_id": slot.Previous.ID, "version": slot.Previous.Version, "state": slot.Previous.State}
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "letter.saved", IncidentID: slot.IncidentID, Before: before,
		After: map[string]any{
			"letter_id": l.ID, "kind": l.Kind, "language": l.Language, "version": l.Version, "state": l.State,
			"drafted_by": l.DraftedBy, "edited_by": l.EditedBy, "content_hash": l.ContentHash,
		}})
	return l, err
}

// DecideLetter approves a pending letter version ("letter.approved") or sends
// it back ("letter.returned"). Whoever drafted the letter or edited this
// version may not decide on it (four-eyes).
func (t *Tx) DecideLetter(ctx context.Context, actor breach.Actor, incidentID, letterID string, approve bool, comment string) (breach.LetterVersion, error) {
	l, err := getLetter(ctx, t.tx, letterID, true)
	if err != nil {
		return l, err
	}
	if incidentID != "" && l.IncidentID != incidentID {
		return l, notFound("letter version")
	}
	if err := refuseClosed(ctx, t.tx, l.IncidentID); err != nil {
		return l, err
	}
	if l.State != breach.LetterPending {
		return l, breach.Errorf(breach.ErrConflict, "letter version is %s, not pending", l.State)
	}
	if actor.UserID == l.DraftedBy || actor.UserID == l.EditedBy {
		return l, breach.Errorf(breach.ErrForbidden, "four-eyes: the author or last editor of a letter may not decide on it")
	}
	if active, err := activeSendOf(ctx, t.tx, l.IncidentID, l.Kind); err != nil {
		return l, err
	} else if active != nil {
		return l, breach.Errorf(breach.ErrConflict, "send %d is %s: letters may not change while it is active", active.Seq, active.State)
	}
	now := t.Now()
	action := "letter.returned"
	if approve {
		action = "letter.approved"
		_, err = t.tx.Exec(ctx, `UPDATE letter_versions SET state = 'approved', approved_by = $2, approved_at = $3, comment = $4 WHERE id = $1`,
			l.ID, actor.UserID, now, comment)
		l.State, l.ApprovedBy, l.ApprovedAt = breach.LetterApproved, actor.UserID, &now
	} else {
		_, err = t.tx.Exec(ctx, `UPDATE letter_versions SET state = 'returned', returned_by = $2, returned_at = $3, comment = $4 WHERE id = $1`,
			l.ID, actor.UserID, now, comment)
		l.State = breach.LetterReturned
	}
	if err != nil {
		return l, mapErr(err)
	}
	l.Comment = comment
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: action, IncidentID: l.IncidentID,
		Before: map[string]any{"state": breach.LetterPending},
		After: map[string]any{
			"letter_id": l.ID, "kind": l.Kind, "language": l.Language, "version": l.Version, "state": l.State,
			"content_hash": l.ContentHash, "comment": comment,
		}})
	return l, err
}

// latestLetter is the current version of the notice in lang.
func latestLetter(ctx context.Context, q querier, incidentID string, lang breach.Language, forUpdate bool) (*breach.LetterVersion, error) {
	return latestLetterOf(ctx, q, incidentID, breach.LetterNotice, lang, forUpdate)
}

func latestLetterOf(ctx context.Context, q querier, incidentID string, kind breach.LetterKind, lang breach.Language, forUpdate bool) (*breach.LetterVersion, error) {
	sql := `SELECT ` + letterColumns + ` FROM letter_versions WHERE incident_id = $1 AND kind = $3 AND language = $2 ORDER BY version DESC LIMIT 1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	l, err := scanLetter(q.QueryRow(ctx, sql, incidentID, string(lang), string(kind)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func getLetter(ctx context.Context, q querier, id string, forUpdate bool) (breach.LetterVersion, error) {
	if !validID(id) {
		return breach.LetterVersion{}, notFound("letter version")
	}
	sql := `SELECT ` + letterColumns + ` FROM letter_versions WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	l, err := scanLetter(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, notFound("letter version")
	}
	return l, err
}

// Letter returns one letter version.
func (s *Store) Letter(ctx context.Context, id string) (breach.LetterVersion, error) {
	l, err := getLetter(ctx, s.Pool, id, false)
	if err != nil {
		return l, fmt.Errorf("store: letter: %w", err)
	}
	return l, nil
}

// Letters lists every version of the incident's notice letters, by language
// and version.
func (s *Store) Letters(ctx context.Context, incidentID string) ([]breach.LetterVersion, error) {
	return s.LettersOf(ctx, incidentID, breach.LetterNotice)
}

// LettersOf lists every version of the incident's letters of the kind, by
// language and version.
func (s *Store) LettersOf(ctx context.Context, incidentID string, kind breach.LetterKind) ([]breach.LetterVersion, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: letters: %w", notFound("incident"))
	}
	return queryLetters(ctx, s.Pool, `SELECT `+letterColumns+` FROM letter_versions WHERE incident_id = $1 AND kind = $2
		ORDER BY language, version`, incidentID, string(kind))
}

// CurrentLetter is the latest version of the incident's letter in lang, or
// not found.
func (s *Store) CurrentLetter(ctx context.Context, incidentID string, lang breach.Language) (breach.LetterVersion, error) {
	if !validID(incidentID) {
		return breach.LetterVersion{}, fmt.Errorf("store: current letter: %w", notFound("incident"))
	}
	l, err := latestLetter(ctx, s.Pool, incidentID, lang, false)
	if err != nil {
		return breach.LetterVersion{}, fmt.Errorf("store: current letter: %w", err)
	}
	if l == nil {
		return breach.LetterVersion{}, fmt.Errorf("store: current letter: %w", notFound("letter"))
	}
	return *l, nil
}

// LettersByID returns the given letter versions of an incident (a send's
// letters), in the order of ids; an ID of another incident is not found.
func (s *Store) LettersByID(ctx context.Context, incidentID string, ids []string) ([]breach.LetterVersion, error) {
	for _, id := range ids {
		if !validID(id) {
			return nil, fmt.Errorf("store: letters: %w", notFound("letter version"))
		}
	}
	got, err := queryLetters(ctx, s.Pool, `SELECT `+letterColumns+` FROM letter_versions WHERE incident_id = $1 AND id = ANY($2::uuid[])`, incidentID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]breach.LetterVersion, 0, len(ids))
	for _, id := range ids {
		found := false
		for _, l := range got {
			if l.ID == id {
				out, found = append(out, l), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("store: letters: %w", notFound("letter version"))
		}
	}
	return out, nil
}

func queryLetters(ctx context.Context, q querier, sql string, args ...any) ([]breach.LetterVersion, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: letters: %w", err)
	}
	defer rows.Close()
	out := []breach.LetterVersion{}
	for rows.Next() {
		l, err := scanLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("store: letters: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: letters: %w", err)
	}
	return out, nil
}
