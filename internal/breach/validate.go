package breach

import "time"

// Validate checks an incident before anything is written; the error names the field.
func (in IncidentInput) Validate(now time.Time) error { panic("unimplemented: being written") }
