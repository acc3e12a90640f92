package e2e

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The XSS corpus: loading testdata/xss-payloads.txt, and where each
// payload fits within the contract's limits.

// xssCorpusFile holds the payloads, one a line (no comments: line n is
// payload n). Payload n marks itself if it ever runs, with
// window.__xss_<n>=1 or top.__xssHit(<n>). The four characters \x00 stand
// for a NUL byte (the only escape the loader decodes).
const xssCorpusFile = "testdata/xss-payloads.txt"

// Limits of the contract that decide where a payload fits.
const (
	xssMaxTitle   = 100  // posts.title, after trimming
	xssMaxName    = 50   // users.name, after the server's normalising
	xssMaxMessage = 2000 // messages.text, after trimming
)

// xssMarker finds the markers a payload sets when it runs.
var xssMarker = regexp.MustCompile(`__xss(?:_(\d+)|Hit\((\d+)\))`)

type xssPayload struct {
	N    int    // line number, the marker's number
	Text string // as sent
}

// readXSSCorpus loads the corpus and checks that each payload marks itself
// with its own line number and fits a message.
func readXSSCorpus(t *testing.T) []xssPayload {
	t.Helper()
	f, err := os.Open(xssCorpusFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var corpus []xssPayload
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024)
	for sc.Scan() {
		n := len(corpus) + 1
		text := strings.ReplaceAll(sc.Text(), `\x00`, "\x00")
		marks := xssMarker.FindAllStringSubmatch(text, -1)
		if len(marks) == 0 {
			t.Fatalf("%s:%d has no marker (window.__xss_%d or top.__xssHit(%d))", xssCorpusFile, n, n, n)
		}
		for _, m := range marks {
			if got := m[1] + m[2]; got != strconv.Itoa(n) {
				t.Fatalf("%s:%d marks itself %s; want %d (its line)", xssCorpusFile, n, got, n)
			}
		}
		if trimmed := strings.TrimSpace(text); trimmed == "" || utf8.RuneCountInString(trimmed) > xssMaxMessage {
			t.Fatalf("%s:%d is %d characters; want 1 to %d (a message)", xssCorpusFile, n, utf8.RuneCountInString(trimmed), xssMaxMessage)
		}
		corpus = append(corpus, xssPayload{N: n, Text: text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 50 {
		t.Fatalf("%s has %d payloads; want at least 50", xssCorpusFile, len(corpus))
	}
	return corpus
}

// xssFitsTitle reports whether p is a valid post title. Lines 74, 75, 77
// and 78 are longer: their posts get a plain title and the payload as body.
func xssFitsTitle(p xssPayload) bool {
	return utf8.RuneCountInString(strings.TrimSpace(p.Text)) <= xssMaxTitle
}

// xssFitsName reports whether p is a valid display name once the server
// has made each run of whitespace one space (it also drops control and
// bidi characters, which only shortens it). With the corpus as it is, the
// ones that do not fit (lines 3, 4, 13, 14, 16-18, 21, 22, 42, 51-54,
// 56-59, 66-69, 71, 72, 74-78) go to titles, bodies and messages only.
func xssFitsName(p xssPayload) bool {
	return utf8.RuneCountInString(strings.Join(strings.Fields(p.Text), " ")) <= xssMaxName
}
