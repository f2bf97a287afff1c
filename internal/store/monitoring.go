package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/vault"
)

// The follow-up monitoring (DESIGN.md track 5): reminder sends through the
// ledger, abuse signals, alerts and reports.

// StartReminderInput starts one reminder round.
type StartReminderInput struct {
	IncidentID string
	Round      int
	Partitions int
	Policy     breach.UnknownPolicy
}

// ReminderStart is what starting a round made: the send (nil when nobody's
// reset was pending: nothing to send) and the letters it sends.
type ReminderStart struct {
	Send    *breach.Send
	Letters []breach.ApprovedLetter
	People  int64
}

// StartReminderSend starts reminder round in.Round: a send of kind reminder
// whose people are those with an account whose reset was not completed
// (account_resets.completed_at NULL) when it starts. Their ledger rows are
// made afterwards, range by range (SeedReminderLedger), for the people whose
// completion is still absent or later than the send's start: a person who
// completed the reset before the round started is never reminded. Each
// language present among them needs an approved current reminder letter,
// otherwise nothing starts (ErrConflict naming the language): the workflow
// raises an alert and starts the round once one is approved. Audited
// "reminder.started", or "reminder.skipped" when nobody is pending.
func (t *Tx) StartReminderSend(ctx context.Context, actor breach.Actor, in StartReminderInput) (ReminderStart, error) {
	var out ReminderStart
	if in.Round < 1 {
		return out, breach.Invalid("round", "must be at least 1")
	}
	if in.Partitions < 1 {
		return out, breach.Invalid("partitions", "must be at least 1")
	}
	if !in.Policy.Valid() {
		return out, breach.Invalid("policy", "must be resend or hold")
	}
	inc, err := t.Incident(ctx, in.IncidentID) // locks the incident: one start at a time
	if err != nil {
		return out, err
	}
	if inc.State == breach.StateClosed {
		return out, closedConflict()
	}
	if prev, err := scanSend(t.tx.QueryRow(ctx, `SELECT `+sendColumns+` FROM sends WHERE incident_id = $1 AND kind = 'reminder' AND round = $2`,
		in.IncidentID, in.Round)); err == nil {
		return out, breach.Errorf(breach.ErrConflict, "reminder round %d was already started (send %d)", in.Round, prev.Seq)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return out, err
	}
	rows, err := t.tx.Query(ctx, `SELECT p.language, count(*), min(p.id), max(p.id)
		FROM account_resets r JOIN people p ON p.incident_id = r.incident_id AND p.id = r.person_id
		WHERE r.incident_id = $1 AND r.completed_at IS NULL
		GROUP BY p.language ORDER BY p.language DESC`, in.IncidentID)
	if err != nil {
		return out, err
	}
	var langs []breach.LanguageCount
	var lo, hi int64
	for rows.Next() {
		var lc breach.LanguageCount
		var lang string
		var a, b int64
		if err := rows.Scan(&lang, &lc.People, &a, &b); err != nil {
			rows.Close()
			return out, err
		}
		lc.Language = breach.Language(lang)
		langs = append(langs, lc)
		if out.People == 0 || a < lo {
			lo = a
		}
		hi = max(hi, b)
		out.People += lc.People
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	if out.People == 0 {
		_, err := t.Audit(ctx, AuditEntry{Actor: actor, Action: "reminder.skipped", IncidentID: in.IncidentID,
			After: map[string]any{"round": in.Round, "people": 0, "reason": "no reset is pending"}})
		return out, err
	}
	for _, lc := range langs {
		cur, err := latestLetterOf(ctx, t.tx, in.IncidentID, breach.LetterReminder, lc.Language, false)
		if err != nil {
			return out, err
		}
		if cur == nil || cur.State != breach.LetterApproved {
			return out, &breach.Error{Code: breach.ErrConflict, Field: "letters",
				Message: fmt.Sprintf("no approved reminder letter in %q (%d people are waiting for it)", lc.Language, lc.People)}
		}
		out.Letters = append(out.Letters, breach.ApprovedLetter{ID: cur.ID, Language: cur.Language, Version: cur.Version, ContentHash: cur.ContentHash})
	}
	ids := make([]string, len(out.Letters))
	for i, l := range out.Letters {
		ids[i] = l.ID
	}
	risk := ""
	if a, err := latestAssessment(ctx, t.tx, in.IncidentID); err != nil {
		return out, err
	} else if a != nil {
		risk = string(a.Decided)
	}
	seq, err := nextSendSeq(ctx, t, in.IncidentID)
	if err != nil {
		return out, err
	}
	now := t.Now()
	send, err := scanSend(t.tx.QueryRow(ctx, `
		INSERT INTO sends (incident_id, seq, kind, round, state, policy, letters, total, min_person, max_person, partitions, risk,
			reason, started_by, started_at, updated_at)
		VALUES ($1, $2, 'reminder', $3, 'running', $4, $5::uuid[], $6, $7, $8, $9, $10, '', $11, $12, $12)
		RETURNING `+sendColumns,
		in.IncidentID, seq, in.Round, string(in.Policy), ids, out.People, lo, hi, min(int64(in.Partitions), out.People), risk, actor.UserID, now))
	if err != nil {
		return out, mapErr(err)
	}
	out.Send = &send
	_, err = t.Audit(ctx, AuditEntry{Actor: actor, Action: "reminder.started", IncidentID: in.IncidentID, After: map[string]any{
		"send_id": send.ID, "seq": send.Seq, "round": in.Round, "letters": out.Letters, "people": out.People,
		"languages": langs, "policy": send.Policy, "partitions": send.Partitions, "cutoff": now,
	}})
	return out, err
}

// SeedReminderLedger makes the ledger rows of reminder send sendID (round)
// for the people with IDs from..to whose reset was not completed when the
// send started: completed_at NULL, or later than the send's started_at (they
// completed it while the round was being seeded, and were pending when it
// started). Rows are round-keyed, so a person reminded in round 1 gets a row
// of their own in round 2 even under the same letter version.
func (t *Tx) SeedReminderLedger(ctx context.Context, incidentID, sendID string, round int, letters []breach.ApprovedLetter, from, to int64, shard int) (int64, error) {
	if !validID(incidentID) || !validID(sendID) {
		return 0, notFound("send")
	}
	if round < 1 {
		return 0, breach.Invalid("round", "must be at least 1")
	}
	langs := make([]string, len(letters))
	ids := make([]string, len(letters))
	hashes := make([]string, len(letters))
	for i, l := range letters {
		langs[i], ids[i], hashes[i] = string(l.Language), l.ID, l.ContentHash
	}
	var n int64
	err := t.tx.QueryRow(ctx, `
		WITH s AS (
			SELECT started_at FROM sends WHERE id = $8 AND incident_id = $1 AND kind = 'reminder' AND round = $9
		), ins AS (
			INSERT INTO ledger (incident_id, person_id, letter_version_id, round, content_hash, updated_at)
			SELECT p.incident_id, p.id, l.id, $9, l.hash, now()
			FROM s, account_resets r
			JOIN people p ON p.incident_id = r.incident_id AND p.id = r.person_id
			JOIN unnest($4::text[], $5::uuid[], $6::text[]) AS l(language, id, hash) ON l.language = p.language
			WHERE r.incident_id = $1 AND r.person_id BETWEEN $2 AND $3
			  AND (r.completed_at IS NULL OR r.completed_at > s.started_at)
			ORDER BY p.id
			ON CONFLICT DO NOTHING
			RETURNING 1
		), cnt AS (
			INSERT INTO delivery_counts AS d (incident_id, round, shard, pending)
			SELECT $1, $9, $7, count(*) FROM ins HAVING count(*) > 0
			ON CONFLICT (incident_id, round, shard) DO UPDATE SET pending = d.pending + EXCLUDED.pending, updated_at = now()
		)
		SELECT count(*) FROM ins`, incidentID, from, to, langs, ids, hashes, shard, sendID, round).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: seed reminder ledger: %w", mapErr(err))
	}
	return n, nil
}

// RoundCounts are the counts of every round's ledger rows (0 the notice,
// then the reminders), from the counters.
func (s *Store) RoundCounts(ctx context.Context, incidentID string) ([]breach.SendCounts, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: round counts: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT round, coalesce(sum(pending), 0)::bigint, coalesce(sum(sending), 0)::bigint,
		coalesce(sum(sent), 0)::bigint, coalesce(sum(failed), 0)::bigint, coalesce(sum(unknown), 0)::bigint
		FROM delivery_counts WHERE incident_id = $1 GROUP BY round ORDER BY round`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: round counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breach.SendCounts, error) {
		var sc breach.SendCounts
		var round int16
		c := &sc.Counts
		err := r.Scan(&round, &c.Pending, &c.Sending, &c.Sent, &c.Failed, &c.Unknown)
		sc.Round = int(round)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: round counts: %w", err)
	}
	return out, nil
}

// ResetCounts is the incident's accounts of the credential track by state,
// and the completed resets, as the track's counters (account_reset_counts)
// keep them.
func (s *Store) ResetCounts(ctx context.Context, incidentID string) (breach.ResetCounts, error) {
	if !validID(incidentID) {
		return breach.ResetCounts{}, fmt.Errorf("store: reset counts: %w", notFound("incident"))
	}
	c, err := resetCounts(ctx, s.Pool, incidentID)
	if err != nil {
		return c, fmt.Errorf("store: reset counts: %w", err)
	}
	return c, nil
}

// SignalIngest is what RecordSignals stored: the call's batch ID and counts
// per kind, without the account IDs.
type SignalIngest struct {
	Batch   string               `json:"batch"`
	Signals int                  `json:"signals"`
	Counts  []breach.SignalCount `json:"counts"`
}

// RecordSignals stores one webhook call's abuse signals (already validated:
// breach.ValidateSignals) and audits "signals.received" in the same
// transaction. Account IDs are personal data: each is kept only as its keyed
// blind index (v; none without a data key, then only their number), never in
// clear, and never in the audit row.
func (s *Store) RecordSignals(ctx context.Context, actor breach.Actor, incidentID string, signals []breach.AbuseSignal, v *vault.Vault) (SignalIngest, error) {
	in := SignalIngest{Batch: uuid.NewString(), Signals: len(signals)}
	if !validID(incidentID) {
		return in, fmt.Errorf("store: record signals: %w", notFound("incident"))
	}
	err := s.InTx(ctx, func(ctx context.Context, tx *Tx) error {
		inc, err := getIncident(ctx, tx.tx, incidentID, false)
		if err != nil {
			return err
		}
		if inc.State == breach.StateClosed {
			return closedConflict()
		}
		counts := map[breach.SignalKind]*breach.SignalCount{}
		for _, sg := range signals {
			var id int64
			err := tx.tx.QueryRow(ctx, `INSERT INTO abuse_signals (incident_id, batch, kind, count, observed_at, accounts)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
				incidentID, in.Batch, string(sg.Kind), sg.Count, sg.ObservedAt.UTC(), len(sg.AccountIDs)).Scan(&id)
			if err != nil {
				return mapErr(err)
			}
			if v != nil && len(sg.AccountIDs) > 0 {
				idx := make([][]byte, len(sg.AccountIDs))
				for i, a := range sg.AccountIDs {
					idx[i] = v.Index("account:" + a) // a tag of its own: never equal to an email's index
				}
				if _, err := tx.tx.Exec(ctx, `INSERT INTO abuse_signal_accounts (signal_id, account_index, key_id)
					SELECT $1, i, $3 FROM unnest($2::bytea[]) AS i ON CONFLICT DO NOTHING`, id, idx, v.KeyID()); err != nil {
					return err
				}
			}
			c := counts[sg.Kind]
			if c == nil {
				c = &breach.SignalCount{Kind: sg.Kind}
				counts[sg.Kind] = c
			}
			c.Count += sg.Count
			c.Accounts += int64(len(sg.AccountIDs))
		}
		for _, k := range breach.SignalKinds {
			if c := counts[k]; c != nil {
				in.Counts = append(in.Counts, *c)
			}
		}
		_, err = tx.Audit(ctx, AuditEntry{Actor: actor, Action: "signals.received", IncidentID: incidentID,
			After: map[string]any{"batch": in.Batch, "signals": in.Signals, "counts": in.Counts}})
		return err
	})
	if err != nil {
		return in, fmt.Errorf("store: record signals: %w", err)
	}
	return in, nil
}

// SignalCrossings lists, per kind, the windows of the monitoring period
// (counted from start) whose signals reached the kind's threshold.
func (s *Store) SignalCrossings(ctx context.Context, incidentID string, start time.Time, thresholds map[breach.SignalKind]breach.Threshold) ([]breach.Crossing, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: signal crossings: %w", notFound("incident"))
	}
	var out []breach.Crossing
	for _, kind := range breach.SignalKinds {
		th, ok := thresholds[kind]
		if !ok || th.Count < 1 {
			continue
		}
		secs := int64(th.Window / time.Second)
		rows, err := s.Pool.Query(ctx, `SELECT CASE WHEN $4::bigint > 0 THEN floor(extract(epoch FROM observed_at - $3::timestamptz) / $4)::bigint ELSE 0 END AS w,
				sum(count)::bigint
			FROM abuse_signals WHERE incident_id = $1 AND kind = $2
			GROUP BY w HAVING sum(count) >= $5 ORDER BY w`, incidentID, string(kind), start.UTC(), secs, th.Count)
		if err != nil {
			return nil, fmt.Errorf("store: signal crossings: %w", err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breach.Crossing, error) {
			c := breach.Crossing{Kind: kind, Threshold: th.Count}
			err := r.Scan(&c.Window, &c.Observed)
			if th.Window > 0 {
				from := start.UTC().Add(time.Duration(c.Window) * time.Duration(secs) * time.Second)
				to := from.Add(time.Duration(secs) * time.Second)
				c.From, c.To = &from, &to
			}
			return c, err
		})
		if err != nil {
			return nil, fmt.Errorf("store: signal crossings: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// SignalTotals sums the incident's signals per kind: in total, within
// from..to (observed), and the account IDs named.
func (s *Store) SignalTotals(ctx context.Context, incidentID string, from, to time.Time) ([]breach.SignalTotal, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: signal totals: %w", notFound("incident"))
	}
	got := map[breach.SignalKind]breach.SignalTotal{}
	rows, err := s.Pool.Query(ctx, `SELECT kind, sum(count)::bigint,
			coalesce(sum(count) FILTER (WHERE observed_at >= $2 AND observed_at < $3), 0)::bigint, sum(accounts)::bigint
		FROM abuse_signals WHERE incident_id = $1 GROUP BY kind`, incidentID, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("store: signal totals: %w", err)
	}
	for rows.Next() {
		var t breach.SignalTotal
		var kind string
		if err := rows.Scan(&kind, &t.Total, &t.InPeriod, &t.Accounts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: signal totals: %w", err)
		}
		t.Kind = breach.SignalKind(kind)
		got[t.Kind] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: signal totals: %w", err)
	}
	out := make([]breach.SignalTotal, 0, len(breach.SignalKinds))
	for _, k := range breach.SignalKinds {
		t := got[k]
		t.Kind = k
		out = append(out, t)
	}
	return out, nil
}

const alertColumns = `id::text, incident_id::text, key, kind, coalesce(signal_kind, ''), observed, threshold, window_from, window_to,
	detail, raised_at, mailed_at, draft_seq, draft_error`

func scanAlert(row pgx.Row) (breach.MonitoringAlert, error) {
	var a breach.MonitoringAlert
	var sk string
	var detail []byte
	err := row.Scan(&a.ID, &a.IncidentID, &a.Key, &a.Kind, &sk, &a.Observed, &a.Threshold, &a.WindowFrom, &a.WindowTo,
		&detail, &a.RaisedAt, &a.MailedAt, &a.DraftSeq, &a.DraftError)
	if err != nil {
		return a, err
	}
	a.SignalKind = breach.SignalKind(sk)
	if len(detail) > 0 && string(detail) != "{}" {
		if err := json.Unmarshal(detail, &a.Detail); err != nil {
			return a, err
		}
	}
	a.RaisedAt, a.MailedAt, a.WindowFrom, a.WindowTo = utc(a.RaisedAt), utcPtr(a.MailedAt), utcPtr(a.WindowFrom), utcPtr(a.WindowTo)
	return a, nil
}

// RaiseAlert records an alert once per key and audits "monitoring.alert";
// raising the same key again returns the stored alert (created false).
func (t *Tx) RaiseAlert(ctx context.Context, a breach.MonitoringAlert) (breach.MonitoringAlert, bool, error) {
	if !validID(a.IncidentID) {
		return a, false, notFound("incident")
	}
	if a.Kind != breach.AlertThreshold && a.Kind != breach.AlertReminderLetterMissing {
		return a, false, breach.Invalid("kind", "unknown alert kind")
	}
	detail := a.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	var sk *string
	if a.SignalKind != "" {
		v := string(a.SignalKind)
		sk = &v
	}
	got, err := scanAlert(t.tx.QueryRow(ctx, `INSERT INTO monitoring_alerts (incident_id, key, kind, signal_kind, observed, threshold,
			window_from, window_to, detail, raised_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (incident_id, key) DO NOTHING
		RETURNING `+alertColumns, a.IncidentID, a.Key, a.Kind, sk, a.Observed, a.Threshold, a.WindowFrom, a.WindowTo, detail, t.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		got, err = scanAlert(t.tx.QueryRow(ctx, `SELECT `+alertColumns+` FROM monitoring_alerts WHERE incident_id = $1 AND key = $2`, a.IncidentID, a.Key))
		return got, false, err
	}
	if err != nil {
		return got, false, mapErr(err)
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: breach.System, Action: "monitoring.alert", IncidentID: a.IncidentID, After: map[string]any{
		"alert_id": got.ID, "key": got.Key, "kind": got.Kind, "signal_kind": got.SignalKind, "observed": got.Observed,
		"threshold": got.Threshold, "window_from": got.WindowFrom, "window_to": got.WindowTo, "detail": detail,
	}})
	return got, true, err
}

// AlertMailed records that the alert's email to the DPO left ("monitoring.alert_mailed").
func (t *Tx) AlertMailed(ctx context.Context, incidentID, alertID, messageID string) error {
	if !validID(alertID) {
		return notFound("alert")
	}
	tag, err := t.tx.Exec(ctx, `UPDATE monitoring_alerts SET mailed_at = $3 WHERE id = $1 AND incident_id = $2 AND mailed_at IS NULL`, alertID, incidentID, t.Now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil // already recorded
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: breach.System, Action: "monitoring.alert_mailed", IncidentID: incidentID,
		After: map[string]any{"alert_id": alertID, "message_id": messageID, "to": "dpo"}})
	return err
}

// AlertDraft records what became of the complementary filing draft the alert
// opens (GDPR Art. 33(4)): its seq, or why it could not be opened.
func (t *Tx) AlertDraft(ctx context.Context, incidentID, alertID string, seq *int, reason string) error {
	if !validID(alertID) {
		return notFound("alert")
	}
	if _, err := t.tx.Exec(ctx, `UPDATE monitoring_alerts SET draft_seq = $3, draft_error = $4 WHERE id = $1 AND incident_id = $2`,
		alertID, incidentID, seq, truncate(reason, 1000)); err != nil {
		return err
	}
	after := map[string]any{"alert_id": alertID}
	if seq != nil {
		after["draft_seq"] = *seq
	} else {
		after["reason"] = reason
	}
	_, err := t.Audit(ctx, AuditEntry{Actor: breach.System, Action: "monitoring.alert_draft", IncidentID: incidentID, After: after})
	return err
}

// Alert returns one alert of the incident.
func (s *Store) Alert(ctx context.Context, incidentID, alertID string) (breach.MonitoringAlert, error) {
	if !validID(incidentID) || !validID(alertID) {
		return breach.MonitoringAlert{}, fmt.Errorf("store: alert: %w", notFound("alert"))
	}
	a, err := scanAlert(s.Pool.QueryRow(ctx, `SELECT `+alertColumns+` FROM monitoring_alerts WHERE incident_id = $1 AND id = $2`, incidentID, alertID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("alert")
	}
	if err != nil {
		return a, fmt.Errorf("store: alert: %w", err)
	}
	return a, nil
}

// Alerts lists the incident's alerts, oldest first.
func (s *Store) Alerts(ctx context.Context, incidentID string) ([]breach.MonitoringAlert, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: alerts: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+alertColumns+` FROM monitoring_alerts WHERE incident_id = $1 ORDER BY raised_at, key`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breach.MonitoringAlert, error) { return scanAlert(r) })
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return out, nil
}

const reportColumns = `id::text, incident_id::text, seq, final, period_from, period_to, summary, content_hash, created_at, mailed_at`

func scanReport(row pgx.Row) (breach.MonitoringReport, error) {
	var r breach.MonitoringReport
	var summary []byte
	err := row.Scan(&r.ID, &r.IncidentID, &r.Seq, &r.Final, &r.PeriodFrom, &r.PeriodTo, &summary, &r.ContentHash, &r.CreatedAt, &r.MailedAt)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(summary, &r.Summary); err != nil {
		return r, err
	}
	r.PeriodFrom, r.PeriodTo, r.CreatedAt, r.MailedAt = utc(r.PeriodFrom), utc(r.PeriodTo), utc(r.CreatedAt), utcPtr(r.MailedAt)
	return r, nil
}

// SaveReport stores a report with its HTML and the HTML's sha256 and audits
// "monitoring.report". A report of the same seq stored already is returned
// as it is (created false): what was mailed is what is kept.
func (t *Tx) SaveReport(ctx context.Context, sum breach.ReportSummary, html []byte, contentHash string) (breach.MonitoringReport, bool, error) {
	if !validID(sum.IncidentID) {
		return breach.MonitoringReport{}, false, notFound("incident")
	}
	r, err := scanReport(t.tx.QueryRow(ctx, `INSERT INTO monitoring_reports (incident_id, seq, final, period_from, period_to, summary, html, content_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (incident_id, seq) DO NOTHING
		RETURNING `+reportColumns, sum.IncidentID, sum.Seq, sum.Final, sum.PeriodFrom.UTC(), sum.PeriodTo.UTC(), sum, html, contentHash, t.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = scanReport(t.tx.QueryRow(ctx, `SELECT `+reportColumns+` FROM monitoring_reports WHERE incident_id = $1 AND seq = $2`, sum.IncidentID, sum.Seq))
		return r, false, err
	}
	if err != nil {
		return r, false, mapErr(err)
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: breach.System, Action: "monitoring.report", IncidentID: sum.IncidentID, After: map[string]any{
		"report_id": r.ID, "seq": r.Seq, "final": r.Final, "period_from": r.PeriodFrom, "period_to": r.PeriodTo,
		"content_hash": r.ContentHash,
	}})
	return r, true, err
}

// ReportMailed records that the report's email to the DPO left ("monitoring.report_mailed").
func (t *Tx) ReportMailed(ctx context.Context, incidentID, reportID, messageID string) error {
	if !validID(reportID) {
		return notFound("report")
	}
	tag, err := t.tx.Exec(ctx, `UPDATE monitoring_reports SET mailed_at = $3 WHERE id = $1 AND incident_id = $2 AND mailed_at IS NULL`, reportID, incidentID, t.Now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	_, err = t.Audit(ctx, AuditEntry{Actor: breach.System, Action: "monitoring.report_mailed", IncidentID: incidentID,
		After: map[string]any{"report_id": reportID, "message_id": messageID, "to": "dpo"}})
	return err
}

// Reports lists the incident's reports, first first, without their HTML.
func (s *Store) Reports(ctx context.Context, incidentID string) ([]breach.MonitoringReport, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: reports: %w", notFound("incident"))
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+reportColumns+` FROM monitoring_reports WHERE incident_id = $1 ORDER BY seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: reports: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breach.MonitoringReport, error) { return scanReport(r) })
	if err != nil {
		return nil, fmt.Errorf("store: reports: %w", err)
	}
	return out, nil
}

// ReportHTML returns one report with its HTML as stored.
func (s *Store) ReportHTML(ctx context.Context, incidentID, reportID string) (breach.MonitoringReport, []byte, error) {
	if !validID(incidentID) || !validID(reportID) {
		return breach.MonitoringReport{}, nil, fmt.Errorf("store: report: %w", notFound("report"))
	}
	var html []byte
	var r breach.MonitoringReport
	var summary []byte
	err := s.Pool.QueryRow(ctx, `SELECT `+reportColumns+`, html FROM monitoring_reports WHERE incident_id = $1 AND id = $2`, incidentID, reportID).
		Scan(&r.ID, &r.IncidentID, &r.Seq, &r.Final, &r.PeriodFrom, &r.PeriodTo, &summary, &r.ContentHash, &r.CreatedAt, &r.MailedAt, &html)
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound("report")
	}
	if err == nil {
		err = json.Unmarshal(summary, &r.Summary)
	}
	if err != nil {
		return r, nil, fmt.Errorf("store: report: %w", err)
	}
	return r, html, nil
}
