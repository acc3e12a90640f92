// Package e2e tests what ships: the binary built from this module with
// CGO_ENABLED=0, started with "serve" on an empty data dir, and driven
// from outside as its users are: over HTTP, by killing it, and through
// Debian's chromium.
//
// The package holds only tests; server_test.go builds the binary once and
// starts it. Run them with the rest:
//
//	GOTOOLCHAIN=go1.27.3 go test ./...
//
// or one on its own:
//
//	GOTOOLCHAIN=go1.27.3 go test -run 'TestCrashDurability$' -v ./e2e
package e2e
