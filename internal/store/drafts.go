package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
)

const draftColumns = `id::text, incident_id::text, regime, stage, seq, version, state, fields, drafted_by, edited_by,
	created_at, content_hash, coalesce(approved_by, ''), approved_at, comment`

func scanDraft(row pgx.Row) (breach.DraftVersion, error) {
	var d breach.DraftVersion
	var regime, stage, state string
	err := row.Scan(&d.ID, &d.IncidentID, &regime, &stage, &d.Key.Seq, &d.Version, &state, &d.Fields, &d.DraftedBy,
		&d.EditedBy, &d.CreatedAt, &d.ContentHash, &d.ApprovedBy, &d.ApprovedAt, &d.Comment)
	if err != nil {
		return d, err
	}
	d.Key.Regime, d.Key.Stage, d.State = breach.RegimeCode(regime), breach.StageCode(stage), breach.DraftState(state)
	d.CreatedAt, d.ApprovedAt = utc(d.CreatedAt), utcPtr(d.ApprovedAt)
	return d, nil
}

// DraftSlot is where the next version of a draft goes, as resolved by
// PrepareDraft: the key with its sequence number, the version number, and the
// version it replaces (nil for a new draft).
type DraftSlot struct {
	IncidentID string
	Key        breach.DraftKey
	Version    int
	DraftedBy  string // who wrote version 1: kept across versions (four-eyes)
	Previous   *breach.DraftVersion
	Incident   breach.Incident // as locked by PrepareDraft
}

// PrepareDraft checks that a new version of the draft may be written on top
// of baseVersion (0: a new draft) and says where it goes. A Seq of 0 on a
// repeatable stage opens the next one; on other stages it means 1. It locks
// the incident until the transaction ends, so drafts of one incident are
// written one at a time.
func (t *Tx) PrepareDraft(ctx context.Context, actor breach.Actor, incidentID string, key breach.DraftKey, baseVersion int) (DraftSlot, error) {
	slot := DraftSlot{IncidentID: incidentID, Key: key, DraftedBy: actor.UserID}
	inc, err := t.Incident(ctx, incidentID)
	if err != nil {
		return slot, err
	}
	if inc.State == breach.StateClosed {
		return slot, closedConflict()
	}
	slot.Incident = inc
	regime, ok := breach.Regimes[key.Regime]
	if !ok {
		return slot, breach.Invalid("regime", "unknown regime")
	}
	if !slices.Contains(inc.Regimes, key.Regime) {
		return slot, breach.Invalid("regime", "regime is not enabled for this incident")
	}
	stage, ok := regime.Stage(key.Stage)
	if !ok {
		return slot, breach.Invalid("stage", "unknown stage for this regime")
	}
	if baseVersion < 0 || key.Seq < 0 {
		return slot, breach.Invalid("base_version", "must not be negative")
	}
	if key.Seq == 0 {
		switch {
		case !stage.Repeatable:
			key.Seq = 1
		case baseVersion != 0:
			return slot, breach.Invalid("seq", "a new version of a repeatable stage needs its sequence number")
		default:
			err := t.tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM draft_versions WHERE incident_id = $1 AND regime = $2 AND stage = $3`,
				incidentID, string(key.Regime), string(key.Stage)).Scan(&key.Seq)
			if err != nil {
				return slot, err
			}
		}
	} else if !stage.Repeatable && key.Seq != 1 {
		return slot, breach.Invalid("seq", "this stage is filed once")
	}
	slot.Key = key

	latest, err := latestDraft(ctx, t.tx, incidentID, key, true)
	if err != nil {
		return slot, err
	}
	switch {
	case latest == nil && baseVersion != 0:
		return slot, breach.Errorf(breach.ErrConflict, "draft has no version %d", baseVersion)
	case latest != nil && baseVersion != latest.Version:
		return slot, breach.Errorf(breach.ErrConflict, "version %d is not the current version (%d)", baseVersion, latest.Version)
	case latest != nil && latest.State == breach.DraftFiled:
		return slot, breach.Errorf(breach.ErrConflict, "draft was filed already")
	}
	if latest != nil {
		slot.DraftedBy = latest.DraftedBy
	}
	slot.Previous = latest
	slot.Version = baseVersion + 1
	return slot, nil
}

// SaveDraftVersion stores the rendered version in its slot as pending,
// supersedes the version it replaces and audits "draft.saved".
// record is the version's structured record (JSON), stored beside its HTML.
func (t *Tx) SaveDraftVersion(ctx context.Context, actor breach.Actor, slot DraftSlot, fields breach.DraftFields, html, record []byte, contentHash string) (breach.DraftVersion, error) {
	if slot.Previous != nil {
		if _, err := t.tx.Exec(ctx, `UPDATE draft_versions SET state = 'superseded' WHERE id = $1`, slot.Previous.ID); err != nil {
			return breach.DraftVersion{}, err
		}
	}
	d, err := scanDraft(t.tx.QueryRow(ctx, `
		INSERT INTO draft_versions (incident_id, regime, stage, seq, version, state, fields, drafted_by, edited_by, created_at, html, content_hash, record)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12)
		RETURNING `+draftColumns,
		slot.IncidentID, string(slot.Key.Regime), string(slot.Key.Stage), slot.Key.Seq, slot.Version, fields,
		slot.DraftedBy, actor.UserID, t.Now(), html, contentHash, nullJSON(record)))
	if err != nil {
		return d, mapErr(err)
	}
	after := map[string]any{
		"draft_id":          d.ID,
		"key":               d.Key,
		"version":           d.Version,
		"state":             d.State,
		"drafted_by":        d.DraftedBy,
		"edited_by":         d.EditedBy,
		"content_hash":      d.ContentHash,
		"language":          fields.Language,
		"has_delay_reasons": fields.DelayReasons != "",
	}
	var before any
	if slot.Previous != nil {
		before = map[string]any{"draft_id": slot.Previous.ID, "version": slot.Previous.Version, "state": slot.Previous.State}
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "draft.saved", IncidentID: slot.IncidentID, Before: before, After: after})
	return d, err
}

func latestDraft(ctx context.Context, q querier, incidentID string, key breach.DraftKey, forUpdate bool) (*breach.DraftVersion, error) {
	sql := `SELECT ` + draftColumns + ` FROM draft_versions
		WHERE incident_id = $1 AND regime = $2 AND stage = $3 AND seq = $4 ORDER BY version DESC LIMIT 1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	d, err := scanDraft(q.QueryRow(ctx, sql, incidentID, string(key.Regime), string(key.Stage), key.Seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func getDraft(ctx context.Context, q querier, id string, forUpdate bool) (breach.DraftVersion, error) {
	if !validID(id) {
		return breach.DraftVersion{}, notFound("draft version")
	}
	sql := `SELECT ` + draftColumns + ` FROM draft_versions WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	d, err := scanDraft(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, notFound("draft version")
	}
	return d, err
}

// Draft reads a draft version and locks it until the transaction ends.
func (t *Tx) Draft(ctx context.Context, id string) (breach.DraftVersion, error) {
	return getDraft(ctx, t.tx, id, true)
}

// DecideDraft approves a pending draft version ("draft.approved") or sends it
// back ("draft.returned"), with the comment. Whoever drafted the draft or
// edited this version may not approve it (four-eyes).
func (t *Tx) DecideDraft(ctx context.Context, actor breach.Actor, incidentID, draftID string, approve bool, comment string) (breach.DraftVersion, error) {
	d, err := t.Draft(ctx, draftID)
	if err != nil {
		return d, err
	}
	if incidentID != "" && d.IncidentID != incidentID {
		return d, notFound("draft version")
	}
	if err := refuseClosed(ctx, t.tx, d.IncidentID); err != nil {
		return d, err
	}
	if d.State != breach.DraftPending {
		return d, breach.Errorf(breach.ErrConflict, "draft version is %s, not pending", d.State)
	}
	action := "draft.returned"
	now := t.Now()
	if approve {
		if actor.UserID == d.DraftedBy || actor.UserID == d.EditedBy {
			return d, breach.Errorf(breach.ErrForbidden, "the author of a draft may not approve it")
		}
		action = "draft.approved"
		_, err = t.tx.Exec(ctx, `UPDATE draft_versions SET state = 'approved', approved_by = $2, approved_at = $3, comment = $4 WHERE id = $1`,
			d.ID, actor.UserID, now, comment)
		d.State, d.ApprovedBy, d.ApprovedAt = breach.DraftApproved, actor.UserID, &now
	} else {
		_, err = t.tx.Exec(ctx, `UPDATE draft_versions SET state = 'returned', returned_by = $2, returned_at = $3, comment = $4 WHERE id = $1`,
			d.ID, actor.UserID, now, comment)
		d.State = breach.DraftReturned
	}
	if err != nil {
		return d, mapErr(err)
	}
	d.Comment = comment
	_, err = t.Audit(ctx, AuditEntry{
		Actor: actor, Action: action, IncidentID: d.IncidentID,
		Before: map[string]any{"state": breach.DraftPending},
		After: map[string]any{
			"draft_id": d.ID, "key": d.Key, "version": d.Version, "state": d.State,
			"content_hash": d.ContentHash, "comment": comment,
		},
	})
	return d, err
}

// Drafts lists every version of every draft of the incident, without their HTML.
func (s *Store) Drafts(ctx context.Context, incidentID string) ([]breach.DraftVersion, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: drafts: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+draftColumns+` FROM draft_versions WHERE incident_id = $1
		ORDER BY regime, created_at, stage, seq, version`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: drafts: %w", err)
	}
	defer rows.Close()
	out := []breach.DraftVersion{}
	for rows.Next() {
		d, err := scanDraft(rows)
		if err != nil {
			return nil, fmt.Errorf("store: drafts: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: drafts: %w", err)
	}
	return out, nil
}

// Draft returns one draft version, without its HTML.
func (s *Store) Draft(ctx context.Context, draftVersionID string) (breach.DraftVersion, error) {
	d, err := getDraft(ctx, s.Pool, draftVersionID, false)
	if err != nil {
		return d, fmt.Errorf("store: draft: %w", err)
	}
	return d, nil
}

// DraftHTML returns the rendered dossier of a draft version.
func (s *Store) DraftHTML(ctx context.Context, draftVersionID string) ([]byte, error) {
	if !validID(draftVersionID) {
		return nil, fmt.Errorf("store: draft html: %w", notFound("draft version"))
	}
	var html []byte
	err := s.Pool.QueryRow(ctx, `SELECT html FROM draft_versions WHERE id = $1`, draftVersionID).Scan(&html)
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("draft version")
	}
	if err != nil {
		return nil, fmt.Errorf("store: draft html: %w", err)
	}
	return html, nil
}

// DraftRecord returns the stored JSON record of a draft version: the dossier's
// structured form, as it was when the version was drafted.
func (s *Store) DraftRecord(ctx context.Context, draftVersionID string) ([]byte, error) {
	if !validID(draftVersionID) {
		return nil, fmt.Errorf("store: draft record: %w", notFound("draft version"))
	}
	var record []byte
	err := s.Pool.QueryRow(ctx, `SELECT record FROM draft_versions WHERE id = $1`, draftVersionID).Scan(&record)
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("draft version")
	}
	if err != nil {
		return nil, fmt.Errorf("store: draft record: %w", err)
	}
	if record == nil {
		return nil, fmt.Errorf("store: draft record: %w", breach.Errorf(breach.ErrNotFound, "this version was drafted before records were kept"))
	}
	return record, nil
}
