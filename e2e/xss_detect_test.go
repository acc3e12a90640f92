package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// What catches a payload in the page: detectors that report a payload
// that runs or a CSP violation, an audit of the DOM, and the visits
// that read what each page shows.

// xssDetectorJS runs in every document and frame before the app: a
// payload that runs reports its marker at once (window.__xss_<n> are
// setters, top.__xssHit a function), and so does every Content Security
// Policy violation. Both go to Go through the exposed __xssReport, so
// nothing is lost when the page goes away.
const xssDetectorJS = `(() => {
	const report = (r) => {
		r = { ...r, url: location.href };
		try {
			window.__xssReport(r);
		} catch (e) { // not exposed in this frame: keep it where the audit looks
			try { (top.__xssUndelivered ||= []).push(r); } catch (e2) { (window.__xssUndelivered ||= []).push(r); }
		}
	};
	window.__xssHit = (n) => report({ kind: 'marker', n: Number(n) || 0, detail: 'top.__xssHit(' + n + ')' });
	for (let n = 0; n <= %d; n++) {
		let value;
		Object.defineProperty(window, '__xss_' + n, {
			configurable: true,
			get() { return value; },
			set(v) { value = v; report({ kind: 'marker', n, detail: 'window.__xss_' + n + ' = ' + String(v) }); },
		});
	}
	document.addEventListener('securitypolicyviolation', (e) => {
		report({ kind: 'csp', n: 0, detail: JSON.stringify({
			directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample,
		}) });
	}, true);
})()`

// xssAuditJS lists what user text would have turned into (and any
// detector report that could not reach the test): elements inside
// the places that show user text, elements the app never makes, inline
// event handlers and script URLs. The app builds DOM only with
// createElement and textContent, so the list is empty.
const xssAuditJS = `(() => {
	const problems = [];
	const where = location.hash || location.href;
	for (const r of window.__xssUndelivered || []) problems.push(where + ': a report the test did not get: ' + JSON.stringify(r));
	const textOnly = '.post-title, .post-heading, .post-body, .seller-name, .chat-name, .chat-post, .chat-preview, '
		+ '.msg-text, .msg-sender, .person-name, .post-card-title, #page-title';
	for (const el of document.querySelectorAll(textOnly)) {
		if (el.childElementCount > 0) problems.push(where + ': .' + el.className + ' holds elements: ' + el.innerHTML.slice(0, 200));
	}
	const foreign = 'body script, body style, body link, body meta, body base, iframe, frame, frameset, object, embed, '
		+ 'math, marquee, video, audio, details, template, noscript, form[action], img[src="x"], svg:not(.icon)';
	for (const el of document.querySelectorAll(foreign)) problems.push(where + ': an element from user text: ' + el.outerHTML.slice(0, 200));
	for (const el of document.querySelectorAll('*')) {
		for (const a of el.attributes) {
			const name = a.name.toLowerCase();
			const value = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
			if (name.startsWith('on') || name === 'srcdoc' || name === 'formaction'
				|| (/^(href|src|action|data|xlink:href|poster|background)$/.test(name) && /^(javascript|vbscript|data:text\/html)/.test(value))) {
				problems.push(where + ': <' + el.tagName.toLowerCase() + ' ' + a.name + '="' + a.value.slice(0, 120) + '">');
			}
		}
	}
	return problems;
})()`

// xssCanaryScript is the inline script the canary tries to run.
const xssCanaryScript = "window.__cspCanary = 1"

// xssReport is what the page reports: a marker set ("marker") or a CSP
// violation ("csp").
type xssReport struct {
	Kind   string `json:"kind"`
	N      int    `json:"n"`
	Detail string `json:"detail"`
	URL    string `json:"url"`
}

// xssWatch collects the reports of one browser.
type xssWatch struct {
	mu      sync.Mutex
	reports []xssReport
}

func (w *xssWatch) all() []xssReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]xssReport(nil), w.reports...)
}

// watchXSS installs the detector in b before its first page.
func watchXSS(b *browserSession, maxN int) *xssWatch {
	b.t.Helper()
	w := &xssWatch{}
	b.do(
		chromedp.ExposeFunc("__xssReport", func(_ context.Context, r xssReport) (chromedp.Void, error) {
			w.mu.Lock()
			w.reports = append(w.reports, r)
			w.mu.Unlock()
			return chromedp.Void{}, nil
		}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: fmt.Sprintf(xssDetectorJS, maxN),
			})
			return err
		}),
	)
	return w
}

// xssGo moves the app to hash without reloading (as a link would) and
// waits until the new view shows ready. The old view's elements are
// tagged first, so that ready cannot be met by what was there before.
func xssGo(b *browserSession, hash, what, ready string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`for (const el of document.querySelectorAll('#main > *')) el.dataset.xssStale = '1';
		location.hash = ` + jsString(hash)))
	b.waitJS(what, `location.hash === `+jsString(hash)+` && document.querySelector('#main > [data-xss-stale]') === null && (`+ready+`)`)
}

// xssJSON is v as a JavaScript literal.
func xssJSON(tb testing.TB, v any) string {
	tb.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(raw)
}

// xssAudit fails the test for every problem xssAuditJS finds on b's page.
func xssAudit(b *browserSession) {
	b.t.Helper()
	for _, p := range evalJS[[]string](b, xssAuditJS) {
		b.t.Errorf("%s: %s", b.name, p)
	}
}

// xssPostView is what a post's page shows.
type xssPostView struct {
	ID       string   `json:"id"`
	Ready    bool     `json:"ready"`
	Heading  string   `json:"heading"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	Seller   string   `json:"seller"`
	Problems []string `json:"problems"`
}

// xssVisitPostsJS opens each post's page in turn (in the page, which is
// much faster than a round trip per step) and reads what it shows.
const xssVisitPostsJS = `(async (ids) => {
	const out = [];
	for (const id of ids) {
		for (const el of document.querySelectorAll('#main > *')) el.dataset.xssStale = '1';
		location.hash = '#/post/' + id;
		const until = Date.now() + 10000;
		let ready = false;
		while (Date.now() < until) {
			ready = location.hash === '#/post/' + id && document.querySelector('#main > [data-xss-stale]') === null
				&& document.querySelector('#main .post-heading') !== null && document.querySelector('#main .seller-name') !== null
				// On my own post the page draws again with its chat count:
				// wait for that, or that late draw lands on the next page.
				&& (document.querySelector('#main .owner-box') === null || document.querySelector('#post-chat-count a') !== null);
			if (ready) break;
			await new Promise((r) => setTimeout(r, 10));
		}
		const text = (sel) => document.querySelector(sel)?.textContent ?? null;
		out.push({ id, ready, heading: text('#main .post-heading'), title: text('#page-title'), body: text('#main .post-body'),
			seller: text('#main .seller-name'), problems: %s });
	}
	return out;
})(%s)`

// xssVisitPosts opens the pages of posts and checks each against the
// stored post and its author's current name.
func xssVisitPosts(b *browserSession, posts []*xssPost, nameOf func(id string) string) {
	b.t.Helper()
	ids := make([]string, len(posts))
	for i, p := range posts {
		ids[i] = p.ID
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserWait+time.Duration(len(posts))*time.Second)
	defer cancel()
	views, err := chromedp.Run(ctx, chromedp.Evaluate[[]xssPostView](fmt.Sprintf(xssVisitPostsJS, xssAuditJS, xssJSON(b.t, ids)), chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: visit %d post pages: %v\n%s", b.name, len(posts), err, b.state())
	}
	if len(views) != len(posts) {
		b.t.Fatalf("%s: visited %d post pages; want %d", b.name, len(views), len(posts))
	}
	for i, v := range views {
		p := posts[i]
		if !v.Ready {
			b.t.Errorf("%s: post page %s (line %d) did not show within 10 s: heading %q, seller %q", b.name, p.ID, p.N, v.Heading, v.Seller)
			continue
		}
		for _, c := range []struct{ what, got, want string }{
			{".post-heading", v.Heading, p.Title},
			{"#page-title", v.Title, p.Title},
			{".post-body", v.Body, p.Body},
			{".seller-name", v.Seller, nameOf(p.Author)},
		} {
			if c.got != c.want {
				b.t.Errorf("%s: post page of line %d: %s textContent = %q; want %q", b.name, p.N, c.what, c.got, c.want)
			}
		}
		for _, problem := range v.Problems {
			b.t.Errorf("%s: %s", b.name, problem)
		}
	}
}
