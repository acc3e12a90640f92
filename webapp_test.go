package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebLogicNodeTests runs the web app's unit tests (test/web/*.test.mjs,
// on the DOM-free modules under pb_public/js) with node --test, so that
// the one test command covers them. A missing node fails the test.
func TestWebLogicNodeTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the web app's unit tests (test/web/*.test.mjs): %v", err)
	}
	// The files are named (not the directory) so that every node version
	// since 18 runs exactly these.
	files, err := filepath.Glob(filepath.Join("test", "web", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("test/web/*.test.mjs = %v, %v; want the web app's unit tests", files, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", strings.Join(files, " "), err, out)
	}
	summary := out
	if i := bytes.LastIndex(out, []byte("# tests")); i >= 0 {
		summary = out[i:]
	}
	if !bytes.Contains(out, []byte("# pass")) || bytes.Contains(out, []byte("# tests 0")) {
		t.Fatalf("node --test ran no tests:\n%s", out)
	}
	t.Logf("node --test %s:\n%s", strings.Join(files, " "), summary)
}
