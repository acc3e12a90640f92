package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The web app in a real browser: Debian's chromium driven over the
// DevTools protocol, against the shipped binary on an empty data dir.
// This file is the browser session the browser_*_test.go tests (and the
// XSS corpus test) drive.

// chromiumPath is Debian's chromium (apt-get install -y chromium); .ci/run
// installs it. Without it the browser test fails: it never skips.
const chromiumPath = "/usr/bin/chromium"

// shotsDir is where the screenshots are copied for a person to look at.
const shotsDir = "/tmp/marketchat-shots"

// browserWait bounds every wait for the page to reach a state.
const browserWait = 30 * time.Second

// startBrowserTest fails the test when the browser is missing, starts
// the binary and returns it with a context for openBrowser that ends
// after timeout (or with the test).
func startBrowserTest(t *testing.T, timeout time.Duration) (*server, context.Context) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return s, ctx
}

// seedRoom signs up seller@example.com (Mina) and buyer@example.com
// (Joon) through the API, posts an item as the seller and presses the
// chat button as the buyer. It returns both tokens and the room's id.
func seedRoom(tb testing.TB, s *server, title string) (sellerToken, buyerToken, roomID string) {
	tb.Helper()
	_, sellerToken = s.signUp(tb, "seller@example.com", "Mina")
	_, buyerToken = s.signUp(tb, "buyer@example.com", "Joon")
	var post struct{ ID string }
	if st := s.do(tb, "POST", "/api/collections/posts/records", sellerToken, map[string]any{"title": title, "price": 40}, &post); st != http.StatusOK {
		tb.Fatalf("create post %q: status %d; want 200", title, st)
	}
	var room struct{ ID string }
	if st := s.do(tb, "POST", "/api/posts/"+post.ID+"/chat", buyerToken, nil, &room); st != http.StatusCreated {
		tb.Fatalf("chat button on %q: status %d; want 201", post.ID, st)
	}
	return sellerToken, buyerToken, room.ID
}

// browserSession is one browser process with one tab.
type browserSession struct {
	t    *testing.T
	name string
	base string
	ctx  context.Context

	mu      sync.Mutex
	console []string // errors, warnings and exceptions the page logged
	dialogs []string // confirm() questions, all accepted
}

// openBrowser starts a separate chromium process with a fresh profile, a
// phone-sized viewport and the given browser languages.
func openBrowser(ctx context.Context, t *testing.T, name, base, languages string) *browserSession {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browserSession{t: t, name: name, base: base, ctx: tabCtx}

	// The first action starts the browser, bound to ctx (not to a
	// per-action timeout, which would close it).
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("%s: start %s: %v", name, chromiumPath, err)
	}
	go b.collectConsole()
	go b.acceptDialogs()

	ua := evalJS[string](b, `navigator.userAgent`)
	b.do(
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
				UserAgent: ua, AcceptLanguage: languages,
			})
			return err
		}),
	)
	return b
}

func (b *browserSession) collectConsole() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
			b.mu.Lock()
			b.console = append(b.console, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.String()))
			b.mu.Unlock()
		}
	}
}

// acceptDialogs answers "OK" to every confirm() and notes its question.
func (b *browserSession) acceptDialogs() {
	for ev, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
		if err != nil {
			return
		}
		_, err := chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		b.mu.Lock()
		b.dialogs = append(b.dialogs, ev.Message)
		if err != nil && b.ctx.Err() == nil {
			b.console = append(b.console, fmt.Sprintf("accept dialog %q: %v", ev.Message, err))
		}
		b.mu.Unlock()
	}
}

// checkConsole fails the test if the page logged an error, a warning (a
// CSP violation is one) or an uncaught exception, except lines that
// contain one of expected.
func (b *browserSession) checkConsole(expected ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, line := range b.console {
		for _, e := range expected {
			if strings.Contains(line, e) {
				b.t.Logf("%s: the page logged (expected) %s", b.name, line)
				continue next
			}
		}
		b.t.Errorf("%s: the page logged %s", b.name, line)
	}
}

// setOffline cuts the browser off the network (new requests fail) or
// brings it back.
func (b *browserSession) setOffline(offline bool) {
	b.t.Helper()
	var conditions []*network.Conditions
	if offline {
		conditions = append(conditions, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: conditions,
		})
		return err
	}))
}

// do runs actions with a bounded time.
func (b *browserSession) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", b.name, err, b.state())
	}
}

// evalJS evaluates expr in b's page.
func evalJS[T any](b *browserSession, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %q: %v", b.name, expr, err)
	}
	return v
}

func (b *browserSession) navigate(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

func (b *browserSession) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *browserSession) waitVisible(sel string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (b *browserSession) typeInto(sel, text string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// pressEnter sends the Enter key as a keyboard does (keydown, keyup), to
// the focused element.
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// sendMessage types text in the room's composer and presses Enter; the
// message must show at once (before or after it is stored).
func (b *browserSession) sendMessage(text string) {
	b.t.Helper()
	b.typeInto(`#composer-text`, text)
	b.do(pressEnter)
	b.waitJS("the message shows at once, the composer empties", `document.querySelector('#composer-text').value === '' && [...document.querySelectorAll('#message-list li.msg.mine .msg-text')].some((e) => e.textContent === `+jsString(text)+`)`)
}

// waitJS waits until the expression is true, or fails with what the page shows.
func (b *browserSession) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		b.t.Fatalf("%s: waiting for %s: %v\nexpression: %s\n%s", b.name, what, err, expr, b.state())
	}
}

// state describes the page for a failure message.
func (b *browserSession) state() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.title + '\n' + (document.body ? document.body.innerText.slice(0, 1500) : '')`))
	if err != nil {
		s = "(page state unavailable: " + err.Error() + ")"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("--- %s's page ---\n%s\n--- console ---\n%s", b.name, s, strings.Join(b.console, "\n"))
}

// screenshot saves the viewport as dir/name.png and a copy in shotsDir.
func (b *browserSession) screenshot(dir, name string) {
	b.t.Helper()
	// Let images and the last render settle.
	b.waitJS("images loaded", `[...document.images].every((i) => i.complete)`)
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	if err := os.MkdirAll(shotsDir, 0o755); err != nil {
		b.t.Logf("screenshot copy: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(shotsDir, name+".png"), buf, 0o644); err != nil {
		b.t.Logf("screenshot copy: %v", err)
	}
}

// signUp creates an account through the app's form and waits until signed in.
func (b *browserSession) signUp(name, email string) {
	b.t.Helper()
	b.navigate("/#/signup")
	b.waitVisible(`#signup-form`)
	b.typeInto(`#signup-form input[name="name"]`, name)
	b.typeInto(`#signup-form input[name="email"]`, email)
	b.typeInto(`#signup-form input[name="password"]`, "password123")
	b.typeInto(`#signup-form input[name="passwordConfirm"]`, "password123")
	b.click(`#signup-form button[type="submit"]`)
	b.waitJS("signed in after sign-up", `document.body.dataset.signedIn === 'true' && location.hash === '#/'`)
}

// signIn signs in through the app's form and waits until signed in.
func (b *browserSession) signIn(email string) {
	b.t.Helper()
	b.navigate("/#/signin")
	b.waitVisible(`#signin-form`)
	b.typeInto(`#signin-form input[name="identity"]`, email)
	b.typeInto(`#signin-form input[name="password"]`, "password123")
	b.click(`#signin-form button[type="submit"]`)
	b.waitJS("signed in", `document.body.dataset.signedIn === 'true' && location.hash === '#/'`)
}

// writePNG makes a small photo to upload.
func writePNG(t *testing.T) string {
	t.Helper()
	return writeSizedPNG(t, 160, 120)
}

// writeSizedPNG makes a width × height photo to upload.
func writeSizedPNG(t *testing.T, width, height int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			img.Set(x, y, color.RGBA{R: uint8(60 + x), G: uint8(120 + y/2), B: uint8(200 - x/2), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bike.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '<':
			b.WriteString(`\u003c`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// waitJSAcrossRestore is waitJS for a page coming back from the
// back/forward cache: its execution context changes under a running poll,
// so each try evaluates afresh.
func (b *browserSession) waitJSAcrossRestore(what, expr string) {
	b.t.Helper()
	err := waitFor(browserWait, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && !ok {
			err = errors.New("still false")
		}
		return err
	})
	if err != nil {
		b.t.Fatalf("%s: waiting for %s (last: %v)\nexpression: %s\n%s", b.name, what, err, expr, b.state())
	}
}
