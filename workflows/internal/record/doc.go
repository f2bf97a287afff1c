// Package record records the histories that the workflows' replay tests replay.
// It runs the workflows end to end on the embedded Temporal server with
// stand-in activities, only when asked:
//
//	go test ./workflows/internal/record -run TestRecordHistories -args -record
//	go test ./workflows/internal/record -run TestRecordCredentialHistories -args -record
//
// It lives apart from package workflows so that linking the server stays out
// of the workflows' own test binary. Recorded histories hold synthetic IDs and
// texts only, never personal data.
package record
