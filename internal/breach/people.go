package breach

// Recipient is one affected person as the delivery engine sees them: contact
// data opened from the sealed columns, in memory only, for one batch. It never
// goes to a log, an error message or a workflow payload.
type Recipient struct {
	PersonID int64    `json:"-"`
	Email    string   `json:"-"`
	Name     string   `json:"-"`
	Language Language `json:"-"`
}
