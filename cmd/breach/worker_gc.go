package main

import (
	"os"
	"runtime/debug"
)

// workerGC tunes the garbage collector of `breach worker`, unless GOGC or
// GOMEMLIMIT are set. A worker's live heap is small (tens of MB) and it
// churns through rendered letters and encoded messages: at Go's default
// (GOGC=100) the collector took a fifth of its CPU in the send benchmark.
// Letting the heap grow to five times its live size, under a soft limit of
// 150 MiB (the collector works harder near it), halves that and keeps the
// worker well under 300 MB resident.
func workerGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(150 << 20)
	}
}
