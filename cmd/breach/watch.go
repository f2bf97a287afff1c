package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// watchUntil is the --watch loop of the status commands: show the state,
// wait every, read again, until done says the state is final or the command
// is cancelled. A failed read is said and retried: a server restarting is no
// reason to stop watching. It returns the last state read.
func watchUntil[T any](cmd *cobra.Command, st T, every time.Duration, read func() (T, error), done func(T) bool, show func(T)) T {
	for !done(st) {
		show(st)
		select {
		case <-cmd.Context().Done():
			return st
		case <-time.After(every):
		}
		next, err := read()
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "breach: %v\n", err)
			continue
		}
		st = next
	}
	return st
}
