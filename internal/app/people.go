package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sync"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/people"
	"github.com/breach-engine/breach/internal/store"
)

// ImportPeopleInput tunes an import of affected people.
type ImportPeopleInput struct {
	Format      people.Format // "" detects CSV or JSONL
	SkipInvalid bool          // load the valid rows when some are rejected
}

// ImportPeopleResult is the outcome of an import: the counts, the rejects
// (line and reason, capped), and how the file was read.
type ImportPeopleResult struct {
	store.ImportResult
	Format   people.Format `json:"format,omitempty"`
	Encoding string        `json:"encoding,omitempty"`
	Gzip     bool          `json:"gzip,omitempty"`
}

// ImportPeople loads the affected people of an incident from a CSV or JSONL
// file (gzip accepted), streamed from body: parsed, normalised and sealed on
// the way, loaded in one transaction with one audit row. Only the DPO may
// import. The checks that need no file (role, incident, a send that has
// started) come before the first byte of the body is read, so a refused
// client does not upload anything (Expect: 100-continue). A file that cannot
// be read is ErrInvalid naming its line; rejected rows, without SkipInvalid,
// are ErrInvalid too, with the result listing them.
func (s *Service) ImportPeople(ctx context.Context, actor breach.Actor, incidentID string, body io.Reader, in ImportPeopleInput) (ImportPeopleResult, error) {
	var res ImportPeopleResult
	const action = "import people"
	if err := s.authorize(ctx, actor, incidentID, action, breach.RoleDPO); err != nil {
		return res, err
	}
	if s.Vault == nil {
		return res, errors.New("app: import people: no data key configured (BREACH_DATA_KEY)")
	}
	lockedAt, err := s.Store.PeopleLockedAt(ctx, incidentID)
	if err != nil {
		return res, err
	}
	if lockedAt != nil {
		err := breach.Errorf(breach.ErrConflict, "the send to the affected people has started: their list can no longer change")
		if aerr := s.Store.RecordRejection(context.WithoutCancel(ctx), incidentID, actor, action, err.Message); aerr != nil {
			return res, fmt.Errorf("app: audit refusal of %s: %w", action, aerr)
		}
		return res, err
	}

	r, err := people.NewReader(body, in.Format)
	if err != nil {
		return res, fileError(err)
	}
	res.Format, res.Gzip = r.Format(), r.Compressed()
	res.ImportResult, err = s.Store.ImportPeopleBatches(ctx, actor, incidentID, rows(r), s.Vault, store.ImportOptions{SkipInvalid: in.SkipInvalid})
	res.Encoding = r.Encoding()
	if err != nil {
		return res, err
	}
	if s.Logger != nil {
		s.Logger.Info("people imported", "incident", incidentID, "loaded", res.Loaded, "merged", res.Merged,
			"rejected", res.Rejected, "format", res.Format, "encoding", res.Encoding)
	}
	return res, nil
}

// importBatch is how many rows of the file travel together to the import's
// workers.
const importBatch = 512

// rows adapts the reader to the store: this goroutine only reads and splits
// records; each batch is normalised by Prepare on one of the import's
// workers. Rejected rows travel as rows with a reason; a file that cannot be
// read on stops the import.
func rows(r *people.Reader) iter.Seq2[store.RowBatch, error] {
	return func(yield func(store.RowBatch, error) bool) {
		raws := getRaws()
		flush := func() bool {
			batch := raws
			raws = getRaws()
			return yield(store.RowBatch{Prepare: func(b *store.RowBatch) {
				b.Rows = slices.Grow(b.Rows[:0], len(batch))
				for i := range batch {
					b.Rows = append(b.Rows, personRow(batch[i].Normalize()))
				}
				putRaws(batch)
			}}, nil)
		}
		for {
			raw, err := r.NextRaw()
			var re *people.RowError
			switch {
			case err == nil:
				raws = append(raws, raw)
			case errors.Is(err, io.EOF):
				if len(raws) > 0 {
					flush()
				}
				return
			case errors.As(err, &re):
				// A row the reader refused keeps its place in line order:
				// normalising it yields the same reject.
				raws = append(raws, people.Rejected(re))
			default:
				if len(raws) == 0 || flush() {
					yield(store.RowBatch{}, fileError(err))
				}
				return
			}
			if len(raws) == importBatch && !flush() {
				return
			}
		}
	}
}

// rawBatches recycles the batches of rows as read: once normalised, a batch is
// dropped, and a new one per batch was a large share of what the garbage
// collector had to follow during an import.
var rawBatches = sync.Pool{New: func() any { s := make([]people.Raw, 0, importBatch); return &s }}

func getRaws() []people.Raw { return (*rawBatches.Get().(*[]people.Raw))[:0] }

func putRaws(batch []people.Raw) {
	clear(batch) // nothing of the people stays reachable from the pool
	batch = batch[:0]
	rawBatches.Put(&batch)
}

// personRow is a normalised row as the store takes it.
func personRow(p people.Person, err error) store.PersonRow {
	var re *people.RowError
	if errors.As(err, &re) {
		return store.PersonRow{Line: re.Line, Reject: re.Reason}
	}
	if err != nil { // Normalize fails only with *RowError
		return store.PersonRow{Line: p.Line, Reject: err.Error()}
	}
	return store.PersonRow{Line: p.Line, Email: p.Email, Name: p.Name, Phone: p.Phone, Language: p.Language, AccountID: p.AccountID}
}

// fileError names the line of a file that cannot be read; other errors (the
// connection) pass through.
func fileError(err error) error {
	var fe *people.FileError
	if errors.As(err, &fe) {
		return breach.Invalid("file", "line %d: %s", fe.Line, fe.Reason)
	}
	return fmt.Errorf("app: import people: read the file: %w", err)
}
