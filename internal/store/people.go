package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/breach-engine/breach/internal/breach"
	"github.com/breach-engine/breach/internal/vault"
)

// The affected people of an incident (migrations 002, 003, 012 and 014).
// Their contact data is sealed by the vault before it reaches Postgres, as
// one record per person (vault.ContactData); what the database sees in
// clear is the language, whether the person has an account, the counts and
// the IDs. Nothing here logs, audits or quotes a person's data in an error.

// PersonRow is one person to import, normalised (internal/people). A row
// with a Reject reason was refused by the parser: it is counted and listed,
// never loaded.
type PersonRow struct {
	Line      int64
	Email     string
	Name      string
	Phone     string
	Language  breach.Language
	AccountID string
	Reject    string
}

// Reject is a refused row: its line and why, never its content.
type Reject struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// DefaultMaxRejects is how many rejects an import lists (all are counted).
const DefaultMaxRejects = 1000

// ImportOptions tune ImportPeople.
type ImportOptions struct {
	// SkipInvalid loads the valid rows when some are rejected; by default an
	// import with a rejected row loads nothing.
	SkipInvalid bool
	// MaxRejects caps the rejects listed in the result (0: DefaultMaxRejects).
	MaxRejects int
}

// ImportResult counts an import: every row of the file is loaded, merged
// into another one (same email) or rejected.
type ImportResult struct {
	Loaded           int64    `json:"loaded"`
	Merged           int64    `json:"merged"`
	Rejected         int64    `json:"rejected"`
	Rejects          []Reject `json:"rejects"`
	RejectsTruncated bool     `json:"rejects_truncated,omitempty"`
	// FirstID and LastID are the IDs given to the loaded people (0 when none).
	FirstID int64 `json:"first_id,omitempty"`
	LastID  int64 `json:"last_id,omitempty"`
}

// The import's pipeline, for one transaction:
//
//	rows (parser, line order)
//	  -> dispatcher: blind index, de-duplication (line order: the first row
//	     of an email is the one kept)
//	  -> sealing workers, one per core
//	  -> windows of copyWindow rows (sorted by blind index in a later
//	     import), given dense IDs
//	  -> COPY straight into people (PostgreSQL's binary format)
//
// Every row is written once, into its final place: a staging table and an
// INSERT .. SELECT would write it twice, and at millions of rows the table's
// own costs dominate anyway. The first import of an incident loads its own
// bare partition and builds its primary key once at the end
// (preparePartition, buildKeys, attach); later ones load the attached
// partition row by row, under both its keys (emailKey). De-duplication
// happens before COPY, on a set of 64-bit prefixes of the blind indexes of
// the people already in the incident and of the rows seen so far: 8 to 16
// bytes per person, never the rows themselves (64 MB for 4.8 million). A row
// whose prefix is already in the set, a duplicate or (less than one chance in
// a million at that size) a prefix collision, is not loaded directly: it goes, sealed, to a
// temporary staging table, and at the end one UPDATE counts the duplicates on
// the rows they duplicate and one INSERT .. SELECT loads the staged rows that
// duplicate nobody (the first of each email, by line) with the next IDs.

// importBatch is how many rows travel together from the parser to the
// sealing workers and on to COPY.
const importBatch = 512

// copyWindow is how many rows COPY receives sorted by blind index and
// numbered in that order (the windower in importer.run): in a later import
// into the incident, the unique index on email_index takes each window in key order, one pass
// over its pages instead of a random page per row, which keeps a load of
// millions of people from slowing down as that index outgrows the database's
// cache. IDs stay dense and follow the file window by window; the heap, the
// primary key and the fan-out's ID ranges stay in step. About 12 MB. The
// first import, into a partition without indexes yet, does not sort: its
// IDs follow the file row by row.
const copyWindow = 32768

// freshWindow is the size of the windows into a fresh partition, which are
// not sorted: COPY receives the rows about as they are sealed.
const freshWindow = 2048

// stageFlush is how many staged rows are held before they are copied to the
// staging table (COPY into people pauses meanwhile).
const stageFlush = 10000

// peopleLockSQL serialises the imports of one incident with each other and
// with LockPeople, without locking the incident's row (the workflow's
// activities keep updating it during a long import).
const peopleLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('breach/people/' || $1::text, 0))`

// ImportPeople loads people into an incident in one transaction (see the
// pipeline above): sealed by v in parallel, de-duplicated by email (the first
// row of an email, by line, is kept; the others are counted as merged into
// it, also into people loaded by an earlier import), given dense IDs after
// the incident's highest (in file order window by window, not row by row),
// and recorded by one audit row, "people.imported",
// with the counts. With a rejected row and no SkipInvalid nothing is loaded:
// the error is ErrInvalid and the result lists the rejects. An incident whose
// send has started (LockPeople) or that is closed refuses imports (conflict).
//
// rows is consumed on another goroutine; it may yield an error to stop the
// import (a file that cannot be read on), which is returned.
func (s *Store) ImportPeople(ctx context.Context, actor breach.Actor, incidentID string, rows iter.Seq2[PersonRow, error], v *vault.Vault, opts ImportOptions) (ImportResult, error) {
	return s.ImportPeopleBatches(ctx, actor, incidentID, func(yield func(RowBatch, error) bool) {
		b := RowBatch{Rows: make([]PersonRow, 0, importBatch)}
		for row, err := range rows {
			if err != nil {
				yield(RowBatch{}, err)
				return
			}
			b.Rows = append(b.Rows, row)
			if len(b.Rows) == importBatch {
				if !yield(b, nil) {
					return
				}
				b = RowBatch{Rows: make([]PersonRow, 0, importBatch)}
			}
		}
		if len(b.Rows) > 0 {
			yield(b, nil)
		}
	}, v, opts)
}

// RowBatch is consecutive rows of a file, in line order. With Prepare set,
// Rows may be empty until Prepare fills it (normalising what the reader
// read): the import calls Prepare on one of its workers, so that the work
// per row runs on every core while the file is read on one. Prepare reuses
// the capacity Rows has on entry: the import recycles the slices of the
// batches it has sealed.
type RowBatch struct {
	Rows    []PersonRow
	Prepare func(*RowBatch)
}

// ImportPeopleBatches is ImportPeople over batches of rows (the server's
// import path: app.Service.ImportPeople reads the file into batches that
// the import's workers normalise).
func (s *Store) ImportPeopleBatches(ctx context.Context, actor breach.Actor, incidentID string, rows iter.Seq2[RowBatch, error], v *vault.Vault, opts ImportOptions) (ImportResult, error) {
	res := ImportResult{Rejects: []Reject{}}
	if v == nil {
		return res, errors.New("store: import people: no data key (vault)")
	}
	if !validID(incidentID) {
		return res, fmt.Errorf("store: import people: %w", notFound("incident"))
	}
	if opts.MaxRejects <= 0 {
		opts.MaxRejects = DefaultMaxRejects
	}
	incident := uuid.MustParse(incidentID)

	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("store: import people: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := checkPeopleOpen(ctx, tx, incidentID); err != nil {
		return res, fmt.Errorf("store: import people: %w", err)
	}
	// From here v is the incident's own key (made now on its first import),
	// the ring after it (incident_keys.go).
	if v, err = incidentVault(ctx, tx, v, incidentID, true); err != nil {
		return res, fmt.Errorf("store: import people: incident key: %w", err)
	}
	imp := &importer{tx: tx, incident: incident, keyID: v.KeyID(), part: peoplePartition(incident)}
	if err := imp.preparePartition(ctx); err != nil {
		return res, fmt.Errorf("store: import people: %w", err)
	}
	var maxID int64
	seen := newPrefixSet()
	if !imp.fresh {
		if err := imp.emailKey(ctx); err != nil {
			return res, fmt.Errorf("store: import people: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM people WHERE incident_id = $1`, incidentID).Scan(&maxID); err != nil {
			return res, fmt.Errorf("store: import people: highest id: %w", err)
		}
		if imp.older, err = seen.load(ctx, tx, incidentID, v.KeyID()); err != nil {
			return res, fmt.Errorf("store: import people: read the people already loaded: %w", err)
		}
	}

	direct, err := imp.run(ctx, rows, v, seen, maxID, opts, &res)
	if err != nil {
		return res, err
	}
	if res.Rejected > 0 && !opts.SkipInvalid {
		first := res.Rejects[0]
		return res, breach.Invalid("file", "%d row(s) rejected, nothing imported (first: line %d: %s); fix the file or import with skip-invalid",
			res.Rejected, first.Line, first.Reason)
	}
	if imp.fresh {
		if err := imp.buildKeys(ctx); err != nil {
			return res, fmt.Errorf("store: import people: %w", err)
		}
	}
	var fromStaging int64
	if imp.staged > 0 {
		if imp.fresh {
			if err := imp.emailKey(ctx); err != nil { // mergeStaged goes through it
				return res, fmt.Errorf("store: import people: %w", err)
			}
		}
		if fromStaging, err = imp.mergeStaged(ctx, incidentID, maxID+direct); err != nil {
			return res, err
		}
	}
	if imp.fresh {
		if err := imp.attach(ctx); err != nil {
			return res, fmt.Errorf("store: import people: %w", err)
		}
	}
	res.Loaded = direct + fromStaging
	res.Merged = imp.staged - fromStaging
	if res.Loaded > 0 {
		res.FirstID, res.LastID = maxID+1, maxID+res.Loaded
	}
	if _, err := appendAudit(ctx, tx, AuditEntry{
		Actor: actor, Action: "people.imported", IncidentID: incidentID,
		After: map[string]int64{"loaded": res.Loaded, "merged": res.Merged, "rejected": res.Rejected},
	}); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("store: import people: commit: %w", err)
	}
	return res, nil
}

// checkPeopleOpen takes the incident's people lock and checks that its list
// may still change.
func checkPeopleOpen(ctx context.Context, tx pgx.Tx, incidentID string) error {
	if _, err := tx.Exec(ctx, peopleLockSQL, incidentID); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	var lockedAt *time.Time
	var state string
	err := tx.QueryRow(ctx, `SELECT people_locked_at, state FROM incidents WHERE id = $1`, incidentID).Scan(&lockedAt, &state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return notFound("incident")
	case err != nil:
		return err
	case lockedAt != nil:
		return breach.Errorf(breach.ErrConflict, "the send to the affected people has started (%s): their list can no longer change",
			lockedAt.UTC().Format(time.RFC3339))
	case state == "closed":
		return closedConflict()
	}
	return nil
}

// prefixSet holds 64-bit prefixes of blind indexes: an open-addressing
// hash set (linear probing, at most 3/4 full), 8 to 16 bytes per person
// where a Go map takes about 30. The prefixes are uniformly random (HMAC
// output), so they are their own hash.
type prefixSet struct {
	slots   []uint64 // 0: empty
	n       int
	hasZero bool
}

func newPrefixSet() *prefixSet { return &prefixSet{slots: make([]uint64, 1<<16)} }

func prefix(index []byte) uint64 { return binary.BigEndian.Uint64(index) }

// has reports whether p is in the set.
func (s *prefixSet) has(p uint64) bool {
	if p == 0 {
		return s.hasZero
	}
	mask := uint64(len(s.slots) - 1)
	for i := p & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case p:
			return true
		case 0:
			return false
		}
	}
}

// add puts p in the set, and reports whether it was not there yet: one
// probe of the table for both (a cache miss per row once the set is large).
func (s *prefixSet) add(p uint64) bool {
	if p == 0 {
		added := !s.hasZero
		s.hasZero = true
		return added
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots, s.n = make([]uint64, 2*len(old)), 0
		for _, q := range old {
			if q != 0 {
				s.insert(q)
			}
		}
	}
	return s.insert(p)
}

func (s *prefixSet) insert(p uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := p & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case p:
			return false
		case 0:
			s.slots[i] = p
			s.n++
			return true
		}
	}
}

// load adds the blind indexes of the incident's people to the set, and
// reports whether any of them was sealed under another key than keyID (the
// import's): only then must the rows of the file be indexed under the older
// keys too.
func (s *prefixSet) load(ctx context.Context, tx pgx.Tx, incidentID, keyID string) (older bool, err error) {
	rows, err := tx.Query(ctx, `SELECT email_index, key_id <> $2 FROM people WHERE incident_id = $1`, incidentID, keyID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) == 2 && len(raw[0]) >= 8 {
			s.add(prefix(raw[0]))
			older = older || (len(raw[1]) == 1 && raw[1][0] != 0) // boolean, binary format
		}
	}
	return older, rows.Err()
}

// importRow is a row on its way to COPY.
type importRow struct {
	line       int64
	reject     string // why the parser refused the row: counted, never loaded
	id         int64  // given by the orderer
	index      []byte
	others     [][]byte // the index under each older key of the ring
	lang       string
	contact    []byte // email, name, phone and account ID: one sealed record (migration 014)
	hasAccount bool
	job        *importJob
}

// importJob is a batch of rows between the reader and COPY. Its rows and
// the buffer of their sealed values are recycled once the last of them is
// written to COPY or staged: an import made about 90 MB of them per
// 200,000 rows, most of what the garbage collector had to deal with.
type importJob struct {
	seq  int
	b    RowBatch
	rows []importRow
	buf  []byte // index, older indexes and contact record of each row
	// live counts the rows on their way to COPY or to the staging table,
	// plus one while the orderer walks the batch: at zero, nothing refers
	// to rows or buf any more.
	live atomic.Int32
}

// forward notes that r goes on to COPY or to the staging table.
func (r *importRow) forward() { r.job.live.Add(1) }

// done notes that r was written to COPY or staged.
func (r *importRow) done() { r.job.release() }

func (j *importJob) release() {
	if j.live.Add(-1) == 0 {
		clear(j.rows) // drops the references to buf and to the job
		rows, buf := j.rows[:0], j.buf[:0]
		importRows.Put(&rows)
		sealedBufs.Put(&buf)
	}
}

var (
	importRows = sync.Pool{New: func() any { return new([]importRow) }}
	sealedBufs = sync.Pool{New: func() any { return new([]byte) }}
)

// getImportRows returns n zeroed rows, recycled if possible.
func getImportRows(n int) []importRow {
	if rows := *importRows.Get().(*[]importRow); cap(rows) >= n {
		return rows[:n] // zeroed by release
	}
	return make([]importRow, n)
}

// getSealedBuf returns an empty buffer with room for size bytes, recycled
// if possible.
func getSealedBuf(size int) []byte {
	if buf := *sealedBufs.Get().(*[]byte); cap(buf) >= size {
		return buf[:0]
	}
	return make([]byte, 0, size)
}

type importer struct {
	tx       pgx.Tx
	incident uuid.UUID
	keyID    string
	part     string // the incident's partition of people (peoplePartition)
	fresh    bool   // part was made by this import: not yet indexed nor attached
	older    bool   // the incident has people sealed under an older key of the ring
	staging  bool   // the staging table exists
	staged   int64  // rows copied to it
}

// peoplePartition names an incident's partition of people (migration 012):
// people_ and the incident ID's 32 hex digits.
func peoplePartition(incident uuid.UUID) string {
	return "people_" + strings.ReplaceAll(incident.String(), "-", "")
}

// preparePartition finds the incident's partition of people, or makes it for
// the first import: a bare table like people, constrained to the incident so
// that attaching it needs no scan, loaded without an index to maintain row by
// row (buildKeys and attach finish it before the import commits). Called
// under the incident's people lock: two imports never race here.
func (imp *importer) preparePartition(ctx context.Context) error {
	var exists bool
	if err := imp.tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, imp.part).Scan(&exists); err != nil {
		return fmt.Errorf("find the incident's partition: %w", err)
	}
	if exists {
		return nil
	}
	part := pgx.Identifier{imp.part}.Sanitize()
	if _, err := imp.tx.Exec(ctx, `CREATE TABLE `+part+` (LIKE people INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
		ALTER TABLE `+part+` ADD CONSTRAINT `+pgx.Identifier{imp.part + "_incident"}.Sanitize()+
		` CHECK (incident_id = '`+imp.incident.String()+`')`); err != nil {
		return fmt.Errorf("make the incident's partition: %w", err)
	}
	imp.fresh = true
	return nil
}

// buildKeys gives a freshly loaded partition its primary key (id), built by
// one sort of the loaded rows (far cheaper than inserting every row into it
// one by one): the send, the ledger and the credential track find people
// by ID ranges from the start.
//
// The other key of a partition, its unique index on the blind index
// (emailKey), waits until something needs it: the rows of a first import
// are unique by construction, the orderer having sent to the staging table
// every row whose prefix it had seen (equal indexes have equal prefixes).
// It is built in this transaction when staged rows are to be merged, and
// otherwise by the next import into the incident before it loads anything,
// imports being the only writers of people: from then on the database
// enforces it. Building it was half the cost of the keys, as much as a
// raw COPY of the same rows.
func (imp *importer) buildKeys(ctx context.Context) error {
	part := pgx.Identifier{imp.part}.Sanitize()
	if _, err := imp.tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB';
		ALTER TABLE `+part+` ADD PRIMARY KEY (id)`); err != nil {
		return fmt.Errorf("build the partition's primary key: %w", mapErr(err))
	}
	return nil
}

// emailKey gives the partition its unique index on the blind index, if it
// has none yet (see buildKeys): named as ADD UNIQUE (email_index) names it,
// as partitions made before had it. The lock it takes lets the incident's
// people be read meanwhile; only imports write them, one at a time.
func (imp *importer) emailKey(ctx context.Context) error {
	if _, err := imp.tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB';
		CREATE UNIQUE INDEX IF NOT EXISTS `+pgx.Identifier{imp.part + "_email_index_key"}.Sanitize()+
		` ON `+pgx.Identifier{imp.part}.Sanitize()+` (email_index)`); err != nil {
		return fmt.Errorf("build the partition's unique blind index: %w", mapErr(err))
	}
	return nil
}

// attach makes a fresh partition part of people. Its keys become the
// partitions of people's keys, and the foreign key to incidents is checked by
// one query over the partition instead of a trigger per row.
func (imp *importer) attach(ctx context.Context) error {
	if _, err := imp.tx.Exec(ctx, `ALTER TABLE people ATTACH PARTITION `+pgx.Identifier{imp.part}.Sanitize()+
		` FOR VALUES IN ('`+imp.incident.String()+`')`); err != nil {
		return fmt.Errorf("attach the incident's partition: %w", mapErr(err))
	}
	return nil
}

// run streams the batches into people and returns how many rows were copied
// there; possible duplicates are copied to the staging table (imp.staged).
//
//	reader (this file's batches, in line order, on one goroutine)
//	  -> workers, one per core: Prepare (normalisation), blind index, seal
//	  -> orderer: batches back in line order; rejects counted, duplicates
//	     found on the prefix set (the first row of an email, by line, is
//	     kept), windows sorted by blind index and numbered
//	  -> COPY (this goroutine)
//
// Only reading the bytes and the ordered bookkeeping are serial: the work per
// row (normalising, the blind index, four seals) runs on every core.
func (imp *importer) run(ctx context.Context, batches iter.Seq2[RowBatch, error], v *vault.Vault, seen *prefixSet, maxID int64, opts ImportOptions, res *ImportResult) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, runtime.GOMAXPROCS(0))
	type job = importJob
	work := make(chan *job, workers*2)
	sealed := make(chan *job, workers*2)
	// Set by the orderer at the first reject without SkipInvalid: nothing
	// will load, the workers stop sealing (the rows after it, in line order,
	// are only checked for more rejects).
	var loadNothing atomic.Bool

	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader
		defer wg.Done()
		defer close(work)
		seq := 0
		for b, err := range batches {
			if err != nil {
				readErr = err
				return
			}
			select {
			case work <- &job{seq: seq, b: b}:
				seq++
			case <-ctx.Done():
				return
			}
		}
	}()
	var sealers sync.WaitGroup
	for range workers {
		sealers.Add(1)
		go func() {
			defer sealers.Done()
			s := v.Sealer(imp.incident)
			// The indexes under the older keys of the ring matter only
			// against people loaded under them (prefixSet.load).
			others := 0
			if imp.older {
				others = s.Others()
			}
			for j := range work {
				prepared := j.b.Prepare != nil
				if prepared {
					j.b.Rows = getPersonRows()
					j.b.Prepare(&j.b)
				}
				j.rows = getImportRows(len(j.b.Rows))
				// One buffer holds the batch's indexes and sealed values:
				// a few allocations per batch instead of five or more per
				// row. Each value is a full slice expression of it, so
				// nothing appended to one can run into the next.
				size := 0
				for i := range j.b.Rows {
					row := &j.b.Rows[i]
					if row.Reject != "" {
						continue
					}
					size += (1+others)*vault.IndexSize + vault.SealedContactSize(contact(row))
				}
				buf := getSealedBuf(size)
				cut := func(from int) []byte { return buf[from:len(buf):len(buf)] }
				for i := range j.b.Rows {
					row, r := &j.b.Rows[i], &j.rows[i]
					r.line, r.reject, r.job = row.Line, row.Reject, j
					if r.reject != "" || loadNothing.Load() {
						continue
					}
					r.lang = string(row.Language)
					if r.lang == "" {
						r.lang = string(breach.French)
					}
					at := len(buf)
					buf = s.AppendIndex(buf, row.Email)
					r.index = cut(at)
					if others > 0 {
						at = len(buf)
						buf = s.AppendOtherIndexes(buf, row.Email)
						r.others = make([][]byte, others)
						for k := range r.others {
							r.others[k] = buf[at+k*vault.IndexSize : at+(k+1)*vault.IndexSize : at+(k+1)*vault.IndexSize]
						}
					}
					at = len(buf)
					buf = s.AppendSealContact(buf, r.index, contact(row))
					r.contact, r.hasAccount = cut(at), row.AccountID != ""
				}
				j.buf = buf
				if prepared {
					putPersonRows(j.b.Rows)
				}
				j.b = RowBatch{} // the clear values go as soon as they are sealed
				select {
				case sealed <- j:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { sealers.Wait(); close(sealed) }()

	// The orderer sorts and numbers the next window while COPY sends the
	// one before.
	windows := make(chan copyChunk, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(windows)
		nextID := maxID
		size := 4096 // small first windows: COPY starts early
		if imp.fresh {
			// Windows are not sorted: small ones keep Postgres busy
			// as the rows come, and leave it little to do after the last.
			size = freshWindow
		}
		w := copyChunk{rows: make([]*importRow, 0, size)}
		var keyed []keyedRow
		send := func() bool {
			if !imp.fresh {
				size = min(2*size, copyWindow)
			}
			// A fresh partition has no index yet: key order would not
			// help it, and the rows keep the order of the file.
			if !imp.fresh {
				keyed = keyed[:0]
				for _, r := range w.rows {
					keyed = append(keyed, keyedRow{prefix(r.index), r})
				}
				slices.SortFunc(keyed, func(a, b keyedRow) int { return cmp.Compare(a.key, b.key) })
				for i, k := range keyed {
					w.rows[i] = k.row
				}
			}
			for _, r := range w.rows {
				nextID++
				r.id = nextID
			}
			select {
			case windows <- w:
				w = copyChunk{rows: make([]*importRow, 0, size)}
				return true
			case <-ctx.Done():
				return false
			}
		}
		pending := map[int]*job{} // sealed ahead of their turn
		next := 0
		for j := range sealed {
			pending[j.seq] = j
			for {
				j, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				j.live.Store(1) // the orderer's, until it has walked the batch
				for i := range j.rows {
					r := &j.rows[i]
					if r.reject != "" {
						res.Rejected++
						if len(res.Rejects) < opts.MaxRejects {
							res.Rejects = append(res.Rejects, Reject{Line: r.line, Reason: r.reject})
						} else {
							res.RejectsTruncated = true
						}
						if !opts.SkipInvalid {
							loadNothing.Store(true)
						}
						continue
					}
					if res.Rejected > 0 && !opts.SkipInvalid {
						continue // nothing will load: only look for the other rejects
					}
					dup := false
					for _, o := range r.others {
						dup = dup || seen.has(prefix(o))
					}
					r.forward()
					if dup || !seen.add(prefix(r.index)) {
						w.held = append(w.held, r)
					} else {
						w.rows = append(w.rows, r)
					}
					if (len(w.rows) >= size || len(w.held) >= stageFlush) && !send() {
						return
					}
				}
				j.release()
			}
		}
		if len(w.rows) > 0 || len(w.held) > 0 {
			send()
		}
	}()

	src := &peopleStream{ctx: ctx, ch: windows, incident: imp.incident, keyID: imp.keyID}
	copySQL := `COPY ` + pgx.Identifier{imp.part}.Sanitize() + ` (` + strings.Join(peopleCopyColumns, ", ") + `) FROM STDIN (FORMAT binary)`
	conn := imp.tx.Conn().PgConn()
	var direct int64
	var copyErr error
	for copyErr == nil {
		src.restart()
		var tag pgconn.CommandTag
		tag, copyErr = conn.CopyFrom(ctx, src, copySQL)
		direct += tag.RowsAffected()
		if copyErr == nil && len(src.held) > 0 {
			if copyErr = imp.stage(ctx, src.held); copyErr == nil {
				for _, r := range src.held {
					r.done()
				}
			}
			src.held = src.held[:0]
		}
		if src.done {
			break
		}
	}
	cancel()
	wg.Wait()
	for range sealed { // let the workers finish
	}
	switch {
	case readErr != nil:
		return 0, readErr
	case src.err != nil:
		return 0, fmt.Errorf("store: import people: copy: %w", src.err)
	case copyErr != nil:
		return 0, fmt.Errorf("store: import people: copy: %w", mapErr(copyErr))
	}
	return direct, nil
}

var peopleCopyColumns = []string{"incident_id", "id", "email_index", "key_id", "contact", "has_account", "language"}

// contact is what a row's contact record holds.
func contact(row *PersonRow) vault.ContactData {
	return vault.ContactData{Email: row.Email, Name: row.Name, Phone: row.Phone, AccountID: row.AccountID}
}

// personRows recycles the slices that Prepare fills: a batch's clear values
// are dropped once sealed, and a new slice per batch was a large share of
// what the garbage collector had to follow during an import.
var personRows = sync.Pool{New: func() any { return new([]PersonRow) }}

func getPersonRows() []PersonRow { return (*personRows.Get().(*[]PersonRow))[:0] }

func putPersonRows(rows []PersonRow) {
	clear(rows[:cap(rows)]) // nothing of the people stays reachable from the pool
	rows = rows[:0]
	personRows.Put(&rows)
}

// keyedRow is a row and its sort key in a window: the key read once, not at
// every comparison.
type keyedRow struct {
	key uint64
	row *importRow
}

// copyChunk is a window of rows for people, sorted by blind index and
// numbered, and the possible duplicates met on the way.
type copyChunk struct {
	rows []*importRow
	held []*importRow
}

// peopleStream is the COPY data into people, in PostgreSQL's binary format,
// written straight from the sealed rows (no per-value type planning: this is
// the hot loop of an import). It collects the possible duplicates, and ends
// the COPY (pauses) when stageFlush of them are waiting.
type peopleStream struct {
	ctx      context.Context
	ch       <-chan copyChunk
	rows     []*importRow // the window being written
	sent     int
	incident uuid.UUID
	keyID    string
	buf      []byte
	off      int
	started  bool // the header is written
	ended    bool // the trailer is written: this COPY is over
	held     []*importRow
	done     bool // no rows left
	err      error
}

// restart prepares the stream for the next COPY after a pause.
func (c *peopleStream) restart() {
	c.buf, c.off, c.started, c.ended = c.buf[:0], 0, false, false
}

// next returns the next row for people, or nil when this COPY must end.
func (c *peopleStream) next() *importRow {
	for c.sent >= len(c.rows) {
		if len(c.held) >= stageFlush {
			return nil // pause: stage them first
		}
		select {
		case w, ok := <-c.ch:
			if !ok {
				c.done = true
				return nil
			}
			c.rows, c.sent = w.rows, 0
			c.held = append(c.held, w.held...)
		case <-c.ctx.Done():
			c.err, c.done = c.ctx.Err(), true
			return nil
		}
	}
	r := c.rows[c.sent]
	c.sent++
	return r
}

func (c *peopleStream) Read(p []byte) (int, error) {
	for c.off >= len(c.buf) {
		if c.ended {
			if c.err != nil {
				return 0, c.err
			}
			return 0, io.EOF
		}
		c.buf, c.off = c.buf[:0], 0
		if !c.started {
			c.buf = append(c.buf, "PGCOPY\n\377\r\n\000"...)
			c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // flags
			c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // header extension
			c.started = true
		}
		for len(c.buf) < 64<<10 {
			r := c.next()
			if r == nil {
				c.buf = binary.BigEndian.AppendUint16(c.buf, 0xFFFF) // trailer
				c.ended = true
				break
			}
			c.buf = c.appendRow(c.buf, r)
			r.done() // its bytes are in c.buf
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

func (c *peopleStream) appendRow(b []byte, r *importRow) []byte {
	field := func(b, v []byte) []byte {
		if v == nil {
			return binary.BigEndian.AppendUint32(b, 0xFFFFFFFF) // NULL
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(peopleCopyColumns)))
	b = field(b, c.incident[:])
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.id))
	b = field(b, r.index)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.keyID)))
	b = append(b, c.keyID...)
	b = field(b, r.contact)
	b = binary.BigEndian.AppendUint32(b, 1) // has_account, a boolean: one byte
	if r.hasAccount {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.lang)))
	return append(b, r.lang...)
}

// stage copies possible duplicates to the staging table.
func (imp *importer) stage(ctx context.Context, held []*importRow) error {
	if !imp.staging {
		if _, err := imp.tx.Exec(ctx, `
			CREATE TEMP TABLE people_import (
				line        bigint NOT NULL,
				email_index bytea  NOT NULL,
				any_index   bytea[] NOT NULL, -- email_index, then the index under each older key
				contact     bytea  NOT NULL,
				has_account boolean NOT NULL,
				language    text   NOT NULL
			) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("staging table: %w", err)
		}
		imp.staging = true
	}
	i := -1
	n, err := imp.tx.CopyFrom(ctx, pgx.Identifier{"people_import"},
		[]string{"line", "email_index", "any_index", "contact", "has_account", "language"},
		pgx.CopyFromFunc(func() ([]any, error) {
			i++
			if i >= len(held) {
				return nil, nil
			}
			r := held[i]
			return []any{r.line, r.index, append([][]byte{r.index}, r.others...), r.contact, r.hasAccount, r.lang}, nil
		}))
	imp.staged += n
	return err
}

// mergeStaged counts the staged rows that duplicate a person (loaded now or
// before, under any key) on that person, and loads the others, the first of
// each email, with IDs after afterID. It returns how many it loaded.
func (imp *importer) mergeStaged(ctx context.Context, incidentID string, afterID int64) (int64, error) {
	// Equality joins on the partition's unique index (email_index): one
	// probe per staged index, whatever the planner knows of a table filled
	// a moment ago. Both statements name the partition: a fresh one is not
	// attached to people yet.
	part := pgx.Identifier{imp.part}.Sanitize()
	if _, err := imp.tx.Exec(ctx, `
		WITH hits AS (
			SELECT p.id, count(*) AS n
			FROM people_import s
			CROSS JOIN LATERAL unnest(s.any_index) AS k(idx)
			JOIN `+part+` p ON p.incident_id = $1 AND p.email_index = k.idx
			GROUP BY p.id)
		UPDATE `+part+` p SET merged = p.merged + hits.n
		FROM hits WHERE p.incident_id = $1 AND p.id = hits.id`, incidentID); err != nil {
		return 0, fmt.Errorf("store: import people: merge duplicates: %w", err)
	}
	tag, err := imp.tx.Exec(ctx, `
		INSERT INTO `+part+` (incident_id, id, email_index, key_id, contact, has_account, language, merged)
		SELECT $1, $2 + row_number() OVER (ORDER BY d.line), d.email_index, $3,
		       d.contact, d.has_account, d.language, d.dups
		FROM (
			SELECT DISTINCT ON (email_index) s.*, count(*) OVER (PARTITION BY email_index) - 1 AS dups
			FROM people_import s
			ORDER BY email_index, line
		) d
		WHERE NOT EXISTS (SELECT 1 FROM unnest(d.any_index) AS k(idx)
			JOIN `+part+` p ON p.incident_id = $1 AND p.email_index = k.idx)
		ORDER BY d.line`, incidentID, afterID, imp.keyID)
	if err != nil {
		return 0, fmt.Errorf("store: import people: load staged rows: %w", mapErr(err))
	}
	return tag.RowsAffected(), nil
}

// LockPeople fixes the list of an incident's people: the delivery engine
// calls it, in its own transaction, when the send starts. It waits for an
// import in progress to end, and is idempotent (the first time is kept).
func (s *Store) LockPeople(ctx context.Context, tx *Tx, incidentID string) error {
	if !validID(incidentID) {
		return fmt.Errorf("store: lock people: %w", notFound("incident"))
	}
	if _, err := tx.tx.Exec(ctx, peopleLockSQL, incidentID); err != nil {
		return fmt.Errorf("store: lock people: %w", err)
	}
	tag, err := tx.tx.Exec(ctx, `UPDATE incidents SET people_locked_at = coalesce(people_locked_at, now()) WHERE id = $1`, incidentID)
	if err != nil {
		return fmt.Errorf("store: lock people: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: lock people: %w", notFound("incident"))
	}
	return nil
}

// PeopleLockedAt reports when the incident's list of people was locked (nil:
// not locked). The import checks it before reading a file.
func (s *Store) PeopleLockedAt(ctx context.Context, incidentID string) (*time.Time, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: people locked: %w", notFound("incident"))
	}
	var at *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT people_locked_at FROM incidents WHERE id = $1`, incidentID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: people locked: %w", notFound("incident"))
	}
	if err != nil {
		return nil, fmt.Errorf("store: people locked: %w", err)
	}
	return utcPtr(at), nil
}

// PeopleCount is the number of people of an incident. IDs are dense from 1
// (imports append, nothing deletes: a purge empties the sealed columns), so
// it is the highest ID, read from the primary key without counting rows.
func (s *Store) PeopleCount(ctx context.Context, incidentID string) (int64, error) {
	_, hi, err := s.PeopleIDRange(ctx, incidentID)
	return hi, err
}

// PeopleIDRange is the lowest and highest person ID of an incident (0, 0
// when it has none): the fan-out splits this range.
func (s *Store) PeopleIDRange(ctx context.Context, incidentID string) (lo, hi int64, err error) {
	if !validID(incidentID) {
		return 0, 0, fmt.Errorf("store: people range: %w", notFound("incident"))
	}
	err = s.Pool.QueryRow(ctx, `SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM people WHERE incident_id = $1`, incidentID).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, fmt.Errorf("store: people range: %w", err)
	}
	return lo, hi, nil
}

// Recipients opens the people with IDs from fromID to toID (inclusive), in ID
// order, for one batch of the mail fan-out. People whose contact data was
// purged are left out. The values live in memory only: never log them.
func (s *Store) Recipients(ctx context.Context, v *vault.Vault, incidentID string, fromID, toID int64) ([]breach.Recipient, error) {
	if !validID(incidentID) {
		return nil, fmt.Errorf("store: recipients: %w", notFound("incident"))
	}
	v, err := s.IncidentVault(ctx, v, incidentID)
	if err != nil {
		return nil, fmt.Errorf("store: recipients: %w", err)
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT `+recipientColumns+` FROM people p
		WHERE incident_id = $1 AND id BETWEEN $2 AND $3 AND `+hasContact+`
		ORDER BY id`, incidentID, fromID, toID)
	if err != nil {
		return nil, fmt.Errorf("store: recipients: %w", err)
	}
	defer rows.Close()
	incident := uuid.MustParse(incidentID)
	o := v.Opener()
	var out []breach.Recipient
	for rows.Next() {
		r, err := scanRecipient(rows, o, incident)
		if err != nil {
			return nil, fmt.Errorf("store: recipients: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recipients: %w", err)
	}
	return out, nil
}

// recipientColumns are what scanRecipient reads of a person (table alias
// p): the contact record, or for a row loaded before it (migration 014) the
// email and full_name columns.
const recipientColumns = `p.id, p.email_index, p.key_id, p.contact, p.email, p.full_name, p.language`

// hasContact holds for a person whose contact data is there (not purged),
// in either form.
const hasContact = `(p.contact IS NOT NULL OR p.email IS NOT NULL)`

func scanRecipient(row pgx.Row, o *vault.Opener, incident uuid.UUID) (breach.Recipient, error) {
	var r breach.Recipient
	var index, contact, email, name []byte
	var keyID, lang string
	if err := row.Scan(&r.PersonID, &index, &keyID, &contact, &email, &name, &lang); err != nil {
		return r, err
	}
	r.Language = breach.Language(lang)
	if contact != nil {
		c, err := o.OpenContact(keyID, incident, index, contact)
		if err != nil {
			return r, fmt.Errorf("person %d: %w", r.PersonID, err)
		}
		r.Email, r.Name = c.Email, c.Name
		return r, nil
	}
	plain, err := o.Open(keyID, incident, index, vault.Email, email)
	if err != nil {
		return r, fmt.Errorf("person %d: %w", r.PersonID, err)
	}
	r.Email = string(plain)
	if name != nil {
		if plain, err = o.Open(keyID, incident, index, vault.FullName, name); err != nil {
			return r, fmt.Errorf("person %d: %w", r.PersonID, err)
		}
		r.Name = string(plain)
	}
	return r, nil
}

// RecipientByEmail finds a person of the incident through the blind index,
// under every key of the ring (by a scan of the incident's partition until
// its unique index on the blind index is built, see buildKeys). email must be normalised as the import does
// (people.NormalizeEmail). Not found is ErrNotFound, without the address.
func (s *Store) RecipientByEmail(ctx context.Context, v *vault.Vault, incidentID, email string) (breach.Recipient, error) {
	if !validID(incidentID) {
		return breach.Recipient{}, fmt.Errorf("store: recipient by email: %w", notFound("incident"))
	}
	v, err := s.IncidentVault(ctx, v, incidentID)
	if err != nil {
		return breach.Recipient{}, fmt.Errorf("store: recipient by email: %w", err)
	}
	idxs := v.Indexes(email)
	keyIDs, indexes := make([]string, len(idxs)), make([][]byte, len(idxs))
	for i, k := range idxs {
		keyIDs[i], indexes[i] = k.KeyID, k.Index
	}
	row := s.Pool.QueryRow(ctx, `
		SELECT `+recipientColumns+`
		FROM people p JOIN unnest($2::text[], $3::bytea[]) AS k(key_id, email_index)
		  ON p.key_id = k.key_id AND p.email_index = k.email_index
		WHERE p.incident_id = $1 AND `+hasContact+`
		ORDER BY p.id LIMIT 1`, incidentID, keyIDs, indexes)
	r, err := scanRecipient(row, v.Opener(), uuid.MustParse(incidentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("store: recipient by email: %w", notFound("person"))
	}
	if err != nil {
		return r, fmt.Errorf("store: recipient by email: %w", err)
	}
	return r, nil
}
