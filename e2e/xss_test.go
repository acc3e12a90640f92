package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The XSS corpus in a real browser: every payload of
// testdata/xss-payloads.txt stored through the public API as post titles
// and bodies, display names and chat messages, then every page that shows
// them opened in chromium. Nothing may run, nothing may be parsed as
// markup, and the text must show exactly as stored.

// xssNamedUsers is how many users besides the viewer carry payload names
// (and author posts, and chat with the viewer). With the viewer that makes
// eight sign-ups and nine password sign-ins, under the server's limit of
// ten of each a minute from one address.
const xssNamedUsers = 7

type xssUser struct {
	ID, Email, Token string
	Name             string // as stored now
}

type xssPost struct {
	N                       int // corpus line of its body (and of its title when it fits)
	ID, Title, Body, Author string
}

type xssRoom struct {
	ID    string
	Other int      // index in users of the other participant (1:1 rooms)
	Post  *xssPost // the viewer's post the chat started from
	Texts []string // messages as stored, oldest first
}

// TestBrowserXSSCorpus stores every payload of testdata/xss-payloads.txt
// (at least 50) as a post body and, where it fits, a post title; as a chat
// message; and, where it fits, as a display name (eight users are renamed
// round after round until every name payload has been shown). A viewer in
// chromium then opens every page that shows them: the whole feed (every
// page of it), every post's page, my page, the chat list, every room and a
// group room with its people panel. Proved on each: no payload ran (a
// payload that runs reports its marker to the test at once, from any
// page or frame), no dialog opened, no Content Security Policy violation
// happened (the app never even tried inline script), no element, event
// handler or script URL came from user text, and the text shows exactly
// as stored. A canary first proves the detectors see a blocked inline
// script and a marker.
func TestBrowserXSSCorpus(t *testing.T) {
	corpus := readXSSCorpus(t)
	s, ctx := startBrowserTest(t, 3*time.Minute)

	var titles, names []xssPayload
	for _, p := range corpus {
		if xssFitsTitle(p) {
			titles = append(titles, p)
		}
		if xssFitsName(p) {
			names = append(names, p)
		}
	}
	if len(names) < 40 || len(titles) < 50 {
		t.Fatalf("payloads that fit: %d names, %d titles; want at least 40 and 50 (the corpus lost its short payloads)", len(names), len(titles))
	}

	// ---- seed through the public API --------------------------------------

	users := make([]*xssUser, 1+xssNamedUsers) // users[0] is the viewer
	for i := range users {
		u := &xssUser{Email: fmt.Sprintf("xss%d@example.com", i)}
		u.ID, u.Token = s.signUp(t, u.Email, fmt.Sprintf("User %d", i))
		users[i] = u
	}
	nameOf := func(id string) string {
		for _, u := range users {
			if u.ID == id {
				return u.Name
			}
		}
		t.Fatalf("no user %q", id)
		return ""
	}
	// rename gives the users the round's name payloads.
	rounds := (len(names) + len(users) - 1) / len(users)
	rename := func(round int) {
		t.Helper()
		for i, u := range users {
			p := names[(round*len(users)+i)%len(names)]
			var rec struct{ Name string }
			if st := s.do(t, "PATCH", "/api/collections/users/records/"+u.ID, u.Token, map[string]any{"name": p.Text}, &rec); st != http.StatusOK {
				t.Fatalf("rename user %d to line %d %q: status %d; want 200", i, p.N, p.Text, st)
			}
			if !xssMarker.MatchString(rec.Name) {
				t.Fatalf("user %d's stored name %q lost line %d's marker", i, rec.Name, p.N)
			}
			u.Name = rec.Name
		}
	}
	rename(0)

	posts := make([]*xssPost, len(corpus))
	var viewerPosts []*xssPost
	for i, p := range corpus {
		author := users[i%len(users)]
		post := &xssPost{N: p.N}
		title := p.Text
		if !xssFitsTitle(p) {
			title = fmt.Sprintf("Corpus line %d (too long for a title)", p.N)
		}
		var rec struct{ ID, Title, Body, Author string }
		if st := s.do(t, "POST", "/api/collections/posts/records", author.Token, map[string]any{"title": title, "body": p.Text, "price": i}, &rec); st != http.StatusOK {
			t.Fatalf("create post with line %d: status %d; want 200", p.N, st)
		}
		if rec.Title != strings.TrimSpace(title) || !xssMarker.MatchString(rec.Body) {
			t.Fatalf("post of line %d stored title %q, body %q; want the payload (trimmed) in both", p.N, rec.Title, rec.Body)
		}
		post.ID, post.Title, post.Body, post.Author = rec.ID, rec.Title, rec.Body, rec.Author
		posts[i] = post
		if author == users[0] {
			viewerPosts = append(viewerPosts, post)
		}
	}

	// One room per named user, from the chat button on one of the
	// viewer's posts, and a group room with everyone.
	rooms := make([]*xssRoom, xssNamedUsers)
	for k := range rooms {
		other := users[k+1]
		post := viewerPosts[k%len(viewerPosts)]
		var rec struct{ ID string }
		if st := s.do(t, "POST", "/api/posts/"+post.ID+"/chat", other.Token, nil, &rec); st != http.StatusCreated {
			t.Fatalf("chat button on post %s as user %d: status %d; want 201", post.ID, k+1, st)
		}
		rooms[k] = &xssRoom{ID: rec.ID, Other: k + 1, Post: post}
	}
	everyone := make([]string, len(users))
	for i, u := range users {
		everyone[i] = u.ID
	}
	var group struct {
		ID           string
		Participants []string
	}
	if st := s.do(t, "POST", "/api/collections/rooms/records", users[0].Token, map[string]any{"participants": everyone}, &group); st != http.StatusOK {
		t.Fatalf("create the group room: status %d; want 200", st)
	}
	if fmt.Sprint(group.Participants) != fmt.Sprint(everyone) {
		t.Fatalf("group participants = %v; want %v in that order", group.Participants, everyone)
	}

	// Every payload is a message: at most 12 a room (under the room's first
	// page of 30), a third of them from the viewer (27, under the flood
	// limit of 30 a user in 10 s).
	for i, p := range corpus {
		room := rooms[i%len(rooms)]
		sender := users[room.Other]
		if i%3 == 0 {
			sender = users[0]
		}
		var rec struct{ Text string }
		if st := s.do(t, "POST", "/api/collections/messages/records", sender.Token, map[string]any{"room": room.ID, "text": p.Text}, &rec); st != http.StatusOK {
			t.Fatalf("send line %d: status %d; want 200", p.N, st)
		}
		if rec.Text != strings.TrimSpace(p.Text) {
			t.Fatalf("message of line %d stored as %q; want %q (as sent, trimmed)", p.N, rec.Text, strings.TrimSpace(p.Text))
		}
	}
	for k := 1; k < len(users); k++ {
		if st := s.do(t, "POST", "/api/collections/messages/records", users[k].Token, map[string]any{"room": group.ID, "text": fmt.Sprintf("hello from user %d", k)}, nil); st != http.StatusOK {
			t.Fatalf("group message from user %d: status %d; want 200", k, st)
		}
	}
	// What each room holds, in the order the app sorts it.
	for _, room := range rooms {
		var list struct {
			Items []struct{ Text string }
		}
		q := url.Values{"filter": {fmt.Sprintf("room = %q", room.ID)}, "sort": {"created,id"}, "perPage": {"100"}}
		if st := s.do(t, "GET", "/api/collections/messages/records?"+q.Encode(), users[0].Token, nil, &list); st != http.StatusOK {
			t.Fatalf("list room %s: status %d", room.ID, st)
		}
		for _, m := range list.Items {
			room.Texts = append(room.Texts, m.Text)
		}
	}
	lastMessage := map[string]string{}
	var roomList struct {
		Items []struct {
			ID          string
			LastMessage string `json:"last_message"`
		}
	}
	if st := s.do(t, "GET", "/api/collections/rooms/records?perPage=50", users[0].Token, nil, &roomList); st != http.StatusOK || len(roomList.Items) != len(rooms)+1 {
		t.Fatalf("the viewer's rooms: status %d, %d rooms; want 200, %d", st, len(roomList.Items), len(rooms)+1)
	}
	for _, r := range roomList.Items {
		lastMessage[r.ID] = r.LastMessage
	}

	// ---- the browser --------------------------------------------------------

	b := openBrowser(ctx, t, "viewer", s.URL, "en-US,en")
	watch := watchXSS(b, len(corpus))

	// The canary, on a page without user text: an inline script is blocked
	// and reported as a violation, and both kinds of marker are reported.
	b.navigate("/?canary=1#/signin")
	b.waitVisible(`#signin-form`)
	if got := evalJS[string](b, `(() => {
		const s = document.createElement('script');
		s.textContent = `+xssJSON(t, xssCanaryScript)+`;
		document.head.append(s);
		top.__xssHit(0);
		window.__xss_0 = 1;
		return typeof window.__cspCanary;
	})()`); got != "undefined" {
		t.Fatalf("an inline script ran (window.__cspCanary is %s): the page has no working Content-Security-Policy", got)
	}
	canary := func(r xssReport) bool { return strings.Contains(r.URL, "?canary=1") }
	err := waitFor(10*time.Second, 20*time.Millisecond, func() error {
		var csp, marker int
		for _, r := range watch.all() {
			if canary(r) && r.Kind == "csp" {
				csp++
			}
			if canary(r) && r.Kind == "marker" && r.N == 0 {
				marker++
			}
		}
		if csp != 1 || marker != 2 {
			return fmt.Errorf("canary reports = %+v; want one CSP violation and two markers", watch.all())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v (the detectors do not work)", err)
	}

	b.signIn(users[0].Email)

	// The whole feed: scroll until every post is there.
	b.waitJS("every post in the feed", fmt.Sprintf(`(() => {
		window.scrollTo(0, document.documentElement.scrollHeight);
		return document.querySelectorAll('#feed-list .post-row').length === %d && document.querySelector('.list-status').textContent === 'You have seen everything.';
	})()`, len(posts)))
	feed := evalJS[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#feed-list .post-row')].map((a) => [a.dataset.postId, a.querySelector('.post-title').textContent]))`)
	for _, p := range posts {
		if got, ok := feed[p.ID]; !ok || got != p.Title {
			t.Errorf("feed title of line %d = %q (shown %v); want %q", p.N, got, ok, p.Title)
		}
	}
	xssAudit(b)

	// Every post's page: title, body and the seller's name.
	xssVisitPosts(b, posts, nameOf)

	// Every 1:1 room: all its messages, oldest first, the other's name and the post.
	for _, room := range rooms {
		xssGo(b, "#/room/"+room.ID, "the room's messages",
			fmt.Sprintf(`document.querySelectorAll('#message-list .msg-text').length === %d`, len(room.Texts)))
		got := evalJS[[]string](b, `[...document.querySelectorAll('#message-list .msg-text')].map((e) => e.textContent)`)
		for i := range room.Texts {
			if got[i] != room.Texts[i] {
				t.Errorf("room with user %d: message %d textContent = %q; want %q", room.Other, i, got[i], room.Texts[i])
			}
		}
		if got := evalJS[string](b, `document.querySelector('#page-title').textContent`); got != users[room.Other].Name {
			t.Errorf("room with user %d: #page-title = %q; want %q", room.Other, got, users[room.Other].Name)
		}
		if got := evalJS[string](b, `document.querySelector('#room-post .post-card-title')?.textContent ?? ''`); got != room.Post.Title {
			t.Errorf("room with user %d: post card title = %q; want %q", room.Other, got, room.Post.Title)
		}
		xssAudit(b)
	}

	// Round after round, with new names: the chat list, the group room with
	// its people, my page and a post by each user.
	for round := 0; round < rounds; round++ {
		if round > 0 {
			rename(round)
			b.do(chromedp.Reload()) // so that the app fetches the names again
			// The chat list needs the app's rooms store, which exists only
			// once the app has asked for my rooms: wait for that request.
			b.waitJS("the app after a reload, with my rooms fetched", `document.body.dataset.signedIn === 'true' && performance.getEntriesByType('resource').some((e) => new URL(e.name).pathname === '/api/collections/rooms/records')`)
		}
		xssCheckNames(t, b, round, users, rooms, group.ID, viewerPosts, lastMessage)

		// A post by each user (all of them were opened in round 0).
		if round > 0 {
			var sample []*xssPost
			for i := range users {
				sample = append(sample, posts[(i+round*len(users))%len(posts)]) // by users[i]
			}
			xssVisitPosts(b, sample, nameOf)
		}
	}

	// ---- nothing ran --------------------------------------------------------

	for _, r := range watch.all() {
		if canary(r) {
			continue
		}
		switch r.Kind {
		case "marker":
			line := "(no such line)"
			if r.N >= 1 && r.N <= len(corpus) {
				line = strconv.Quote(corpus[r.N-1].Text)
			}
			t.Errorf("payload %d ran on %s (%s): %s", r.N, r.URL, r.Detail, line)
		case "csp":
			t.Errorf("Content-Security-Policy violation on %s: %s (the app tried to run or load something from user text)", r.URL, r.Detail)
		default:
			t.Errorf("unknown report %+v", r)
		}
	}
	b.mu.Lock()
	dialogs := b.dialogs
	b.mu.Unlock()
	if len(dialogs) != 0 {
		t.Errorf("dialogs opened: %q; want none", dialogs)
	}
	// The canary's blocked script is the only console error allowed (the
	// message names the script by its hash).
	sum := sha256.Sum256([]byte(xssCanaryScript))
	b.checkConsole("'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
	t.Logf("corpus %d payloads: %d post titles, %d post bodies, %d display names (%d rounds of %d users), %d messages in %d rooms",
		len(corpus), len(titles), len(corpus), len(names), rounds, len(users), len(corpus), len(rooms))
}

// xssCheckNames checks the pages that show the users' names of this round:
// the chat list (names, posts, previews), the group room's title, senders
// and people, and my page.
func xssCheckNames(t *testing.T, b *browserSession, round int, users []*xssUser, rooms []*xssRoom, groupID string, viewerPosts []*xssPost, lastMessage map[string]string) {
	t.Helper()
	type row struct {
		Name    string  `json:"name"`
		Post    *string `json:"post"`
		Preview string  `json:"preview"`
	}
	xssGo(b, "#/chats", "every room in the chat list", fmt.Sprintf(`document.querySelectorAll('#chat-list .chat-row').length === %d`, len(rooms)+1))
	list := evalJS[map[string]row](b, `Object.fromEntries([...document.querySelectorAll('#chat-list .chat-row')].map((a) => [a.dataset.roomId, {
		name: a.querySelector('.chat-name').textContent, post: a.querySelector('.chat-post')?.textContent ?? null, preview: a.querySelector('.chat-preview').textContent }]))`)
	for _, room := range rooms {
		got, ok := list[room.ID]
		switch {
		case !ok:
			t.Errorf("round %d: the chat list lacks the room with user %d", round, room.Other)
		case got.Name != users[room.Other].Name:
			t.Errorf("round %d: chat list .chat-name = %q; want user %d's name %q", round, got.Name, room.Other, users[room.Other].Name)
		case got.Post == nil || *got.Post != room.Post.Title:
			t.Errorf("round %d: chat list .chat-post for user %d = %v; want %q", round, room.Other, got.Post, room.Post.Title)
		case got.Preview != lastMessage[room.ID]:
			t.Errorf("round %d: chat list .chat-preview for user %d = %q; want %q", round, room.Other, got.Preview, lastMessage[room.ID])
		}
	}
	groupName := users[1].Name + fmt.Sprintf(" and %d others", len(users)-2)
	if got := list[groupID]; got.Name != groupName || got.Preview != lastMessage[groupID] {
		t.Errorf("round %d: chat list group row = %+v; want name %q, preview %q", round, got, groupName, lastMessage[groupID])
	}
	xssAudit(b)

	// The group room: its title, who said what, and the people panel.
	xssGo(b, "#/room/"+groupID, "the group room", fmt.Sprintf(`document.querySelectorAll('#message-list .msg-sender').length === %d`, len(users)-1))
	b.click(`#people-button`)
	b.waitJS("the people panel", fmt.Sprintf(`document.querySelectorAll('#people-panel .people-list .person-name').length === %d`, len(users)))
	var wantSenders, wantPeople []string
	for i, u := range users {
		if i == 0 {
			wantPeople = append(wantPeople, u.Name+" (You)")
			continue
		}
		wantSenders = append(wantSenders, u.Name)
		wantPeople = append(wantPeople, u.Name)
	}
	for _, c := range []struct {
		what string
		expr string
		want []string
	}{
		{"#page-title", `[document.querySelector('#page-title').textContent]`, []string{groupName}},
		{".msg-sender", `[...document.querySelectorAll('#message-list .msg-sender')].map((e) => e.textContent)`, wantSenders},
		{".person-name", `[...document.querySelectorAll('#people-panel .people-list .person-name')].map((e) => e.textContent)`, wantPeople},
	} {
		if got := evalJS[[]string](b, c.expr); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("round %d: group room %s = %q; want %q", round, c.what, got, c.want)
		}
	}
	xssAudit(b)

	// My page: my name in its field, my posts' titles. The page shows the
	// signed-in record, which the app refreshes after a reload.
	b.waitJS("my refreshed sign-in", `JSON.parse(localStorage.getItem('pocketbase_auth') || '{}').record?.name === `+xssJSON(b.t, users[0].Name))
	xssGo(b, "#/me", "my page with my posts", fmt.Sprintf(`document.querySelectorAll('#main .post-list .post-title').length === %d`, len(viewerPosts)))
	if got := evalJS[string](b, `document.querySelector('#profile-form input[name="name"]').value`); got != users[0].Name {
		t.Errorf("round %d: my page's name field = %q; want %q", round, got, users[0].Name)
	}
	mine := evalJS[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#main .post-list .post-row')].map((a) => [a.dataset.postId, a.querySelector('.post-title').textContent]))`)
	for _, p := range viewerPosts {
		if mine[p.ID] != p.Title {
			t.Errorf("round %d: my page's title of line %d = %q; want %q", round, p.N, mine[p.ID], p.Title)
		}
	}
	xssAudit(b)
}
