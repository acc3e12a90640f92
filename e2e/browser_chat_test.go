package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The chat in the browser: a seller and a buyer from sign-up to an answer
// read, and a room's history, photos and people.

// TestBrowserMarketplaceChat walks the scenario with two separate
// browsers, a seller (English) and a buyer (Korean, from the browser's
// language): both sign up through the UI; the seller posts with a photo;
// the buyer's feed shows it live; the buyer presses Chat and sends two
// messages; the seller's chat list shows the unread badge, the preview
// and the total in the page title live; the seller opens the room, sees
// the messages, answers; the buyer sees the answer live and the "read"
// state. A post title and messages carrying HTML and script payloads
// render as literal text and run nothing. Screenshots of the feed, the
// chat list and the room are written under the test's temp dir and
// copied to /tmp/marketchat-shots.
func TestBrowserMarketplaceChat(t *testing.T) {
	s, ctx := startBrowserTest(t, 4*time.Minute)

	shots := filepath.Join(t.TempDir(), "shots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	photo := writePNG(t)

	seller := openBrowser(ctx, t, "seller", s.URL, "en-US,en")
	buyer := openBrowser(ctx, t, "buyer", s.URL, "ko-KR,ko")

	// Language from the browser: the buyer's app speaks Korean.
	seller.navigate("/#/")
	buyer.navigate("/#/")
	buyer.waitJS("the buyer's app is in Korean", `document.documentElement.lang === 'ko' && document.querySelector('[data-tab="chats"]').textContent.includes('채팅')`)
	seller.waitJS("the seller's app is in English", `document.documentElement.lang === 'en' && document.querySelector('[data-tab="chats"]').textContent.includes('Chats')`)

	seller.signUp("Mina the seller", "seller@example.com")
	buyer.signUp("Joon", "buyer@example.com")

	// The buyer watches the feed; the seller posts with a photo.
	const title = `Road bike <img src=x onerror="window.__xss=1"> & <b>bold</b>`
	buyer.navigate("/#/")
	buyer.waitJS("the buyer's empty feed", `document.querySelector('.list-status')?.textContent.length > 0`)

	seller.click(`a.fab`)
	seller.waitVisible(`input[name="title"]`)
	seller.do(chromedp.SetUploadFiles(chromedp.CSS(`input[name="images"]`), []string{photo}))
	seller.waitJS("the photo preview", `document.querySelectorAll('.photo-tile img').length === 1`)
	seller.typeInto(`input[name="title"]`, title)
	seller.typeInto(`input[name="price"]`, "25000")
	seller.typeInto(`textarea[name="body"]`, "Lightly used. <script>window.__xss=2</script> Pick up near the station.")
	seller.click(`form button[type="submit"]`)
	seller.waitJS("the new post's page with its photo", `location.hash.startsWith('#/post/') && [...document.querySelectorAll('.gallery img')].some((i) => i.complete && i.naturalWidth > 0)`)
	seller.waitJS("the post page shows the title as text", `document.querySelector('#page-title').textContent === `+jsString(title))

	buyer.waitJS("the post appears live in the buyer's feed", `[...document.querySelectorAll('#feed-list .post-title')].some((e) => e.textContent === `+jsString(title)+`)`)
	buyer.waitJS("the feed thumbnail loads", `[...document.querySelectorAll('#feed-list img.thumb')].some((i) => i.complete && i.naturalWidth > 0)`)
	buyer.waitJS("the price in Korean", `document.querySelector('#feed-list .price').textContent === '25,000원'`)
	buyer.screenshot(shots, "1-feed-buyer")

	// The seller watches their chat list.
	seller.click(`[data-tab="chats"]`)
	seller.waitJS("the seller's empty chat list", `location.hash === '#/chats' && document.querySelector('.list-status')?.textContent.includes('No chats')`)

	// The buyer opens the post and presses Chat.
	buyer.click(`#feed-list a.post-row`)
	buyer.waitVisible(`#chat-button`)
	buyer.click(`#chat-button`)
	buyer.waitJS("the room opens", `location.hash.startsWith('#/room/') && document.querySelector('#room-post .post-card-title')?.textContent === `+jsString(title))

	msg1 := `Is it still available? <script>window.__xss=3</script>`
	msg2 := `<img src=x onerror="window.__xss=4">`
	buyer.sendMessage(msg1)
	buyer.sendMessage(msg2)
	buyer.waitJS("both messages stored", `document.querySelectorAll('#message-list li.msg.mine[data-status="sent"]').length === 2`)

	// The seller's chat list updates live: the room, its preview and the unread badge.
	seller.waitJS("the room appears in the seller's chat list with 2 unread", `(() => {
		const row = document.querySelector('#chat-list .chat-row');
		return row && row.querySelector('.badge.unread')?.textContent === '2'
			&& row.querySelector('.chat-preview').textContent === `+jsString(msg2)+`
			&& row.querySelector('.chat-name').textContent === 'Joon'
			&& row.querySelector('.chat-post').textContent === `+jsString(title)+`;
	})()`)
	seller.waitJS("the unread total in the title and the tab", `document.title.startsWith('(2) ') && document.querySelector('#unread-total').textContent === '2' && !document.querySelector('#unread-total').hidden`)
	seller.screenshot(shots, "2-chats-seller")

	// The seller opens the room, sees the messages and answers.
	seller.click(`#chat-list a.chat-row`)
	seller.waitJS("the seller sees both messages as text", `(() => {
		const texts = [...document.querySelectorAll('#message-list li.msg.theirs .msg-text')].map((e) => e.textContent);
		return texts.length === 2 && texts[0] === `+jsString(msg1)+` && texts[1] === `+jsString(msg2)+`;
	})()`)
	seller.waitJS("opening the room marks it read", `!document.title.startsWith('(') && document.querySelector('#unread-total').hidden`)
	answer := "Yes! Come by at 6 pm."
	seller.sendMessage(answer)
	seller.waitJS("the answer is stored", `document.querySelectorAll('#message-list li.msg.mine[data-status="sent"]').length === 1`)
	seller.waitJS("the status control on the seller's post card", `document.querySelector('#room-post-status')?.value === 'selling'`)

	// The buyer sees the answer live, and that the seller read their messages.
	buyer.waitJS("the answer arrives live", `[...document.querySelectorAll('#message-list li.msg.theirs .msg-text')].some((e) => e.textContent === `+jsString(answer)+`)`)
	buyer.waitJS("the buyer's messages show as read (읽음)", `(() => {
		const mine = [...document.querySelectorAll('#message-list li.msg.mine')];
		return mine.length === 2 && mine.every((m) => m.dataset.read === 'true' && m.querySelector('.msg-read')?.textContent === '읽음');
	})()`)
	buyer.waitJS("the buyer has nothing unread while in the room", `document.querySelector('#unread-total').hidden && !document.title.startsWith('(')`)
	seller.waitJS("the seller sees that the buyer read the answer", `document.querySelector('#message-list li.msg.mine')?.dataset.read === 'true'`)

	// The seller marks the item reserved from the room; the buyer's card follows live.
	seller.do(chromedp.SetValue(chromedp.CSS(`#room-post-status`), "reserved"))
	seller.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#room-post-status').dispatchEvent(new Event('change'))`))
	buyer.waitJS("the buyer's post card shows reserved (예약중)", `document.querySelector('#room-post .status')?.textContent === '예약중'`)

	buyer.screenshot(shots, "3-room-buyer")
	seller.screenshot(shots, "4-room-seller")

	// Nothing ran: no payload executed, no inline script, no element made from text.
	for _, b := range []*browserSession{seller, buyer} {
		if ran := evalJS[bool](b, `window.__xss !== undefined`); ran {
			t.Errorf("%s: window.__xss = %v; want undefined (a payload ran)", b.name, evalJS[any](b, `window.__xss`))
		}
		got := evalJS[int](b, `document.querySelectorAll('img[src="x"], b, #main script').length + [...document.scripts].filter((s) => !s.src).length`)
		if got != 0 {
			t.Errorf("%s: elements made from user text = %d; want 0", b.name, got)
		}
	}
	buyer.navigate("/#/")
	buyer.waitJS("the feed shows the title as literal text", `[...document.querySelectorAll('#feed-list .post-title')].some((e) => e.textContent === `+jsString(title)+`)`)
	if ran := evalJS[bool](buyer, `window.__xss !== undefined`); ran {
		t.Errorf("buyer after navigating: window.__xss defined; want undefined (a payload ran)")
	}

	for _, b := range []*browserSession{seller, buyer} {
		b.checkConsole()
	}
}

// TestBrowserRoomHistoryPhotoAndPeople opens a room with 50 messages: the
// newest page shows, scrolling up loads the rest without losing the
// reader's place; the buyer sends a photo, which shows through a file
// token (attachments are protected); then the buyer invites a third user
// through the people panel and leaves the room.
func TestBrowserRoomHistoryPhotoAndPeople(t *testing.T) {
	s, ctx := startBrowserTest(t, 3*time.Minute)

	sellerToken, buyerToken, roomID := seedRoom(t, s, "Armchair")
	carolID, carolToken := s.signUp(t, "carol@example.com", "Carol")
	// 25 messages each, under the flood limit of 30 per user in 10 s.
	for i := 0; i < 50; i++ {
		token := buyerToken
		if i%2 == 1 {
			token = sellerToken
		}
		if st := s.do(t, "POST", "/api/collections/messages/records", token, map[string]any{"room": roomID, "text": fmt.Sprintf("history %02d", i)}, nil); st != http.StatusOK {
			t.Fatalf("message %d: status %d", i, st)
		}
	}

	buyer := openBrowser(ctx, t, "buyer", s.URL, "en-US,en")
	buyer.signIn("buyer@example.com")
	buyer.navigate("/#/room/" + roomID)
	texts := `[...document.querySelectorAll('#message-list .msg-text')].map((e) => e.textContent)`
	buyer.waitJS("the newest 30 messages, scrolled to the end", `(() => {
		const t = `+texts+`, m = document.querySelector('#messages');
		return t.length === 30 && t[0] === 'history 20' && t[29] === 'history 49' && m.scrollHeight - m.scrollTop - m.clientHeight < 2;
	})()`)

	buyer.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#messages').scrollTop = 0`))
	buyer.waitJS("older messages load on scrolling up", `(() => { const t = `+texts+`; return t.length === 50 && t[0] === 'history 00' && t[49] === 'history 49'; })()`)
	buyer.waitJS("the reader keeps their place", `(() => {
		const m = document.querySelector('#messages').getBoundingClientRect();
		const e = [...document.querySelectorAll('#message-list .msg-text')].find((x) => x.textContent === 'history 20').getBoundingClientRect();
		return e.top >= m.top && e.bottom <= m.bottom;
	})()`)

	photo := writePNG(t)
	buyer.do(chromedp.SetUploadFiles(chromedp.CSS(`#composer-files`), []string{photo}))
	buyer.waitJS("the chosen photo", `!document.querySelector('#composer .chosen').hidden`)
	buyer.typeInto(`#composer-text`, "like this one")
	buyer.do(pressEnter)
	buyer.waitJS("the photo message is stored and its photo loads with a file token", `(() => {
		const m = [...document.querySelectorAll('#message-list li.msg.mine[data-status="sent"]')].pop();
		const img = m && m.querySelector('img.attachment');
		return m.querySelector('.msg-text')?.textContent === 'like this one' && img && img.complete && img.naturalWidth > 0
			&& img.src.includes('/api/files/') && img.src.includes('token=');
	})()`)
	buyer.waitJS("the view stays at the newest message", `(() => { const m = document.querySelector('#messages'); return m.scrollHeight - m.scrollTop - m.clientHeight < 2; })()`)

	buyer.click(`#people-button`)
	buyer.waitJS("two people", `document.querySelectorAll('#people-panel .people-list .person').length === 2`)
	buyer.typeInto(`#invite-search`, "Car")
	buyer.click(`#people-panel .invite-results button`)
	buyer.waitJS("three people and a group title", `document.querySelectorAll('#people-panel .people-list .person').length === 3 && document.querySelector('#page-title').textContent === 'Mina and 1 other'`)
	var carolRooms struct {
		Items []struct {
			ID           string
			Participants []string
		}
	}
	if st := s.do(t, "GET", "/api/collections/rooms/records", carolToken, nil, &carolRooms); st != http.StatusOK || len(carolRooms.Items) != 1 || carolRooms.Items[0].ID != roomID {
		t.Fatalf("carol's rooms after the invite = %d %+v; want 200 and the room %q", st, carolRooms.Items, roomID)
	}
	if got := fmt.Sprint(carolRooms.Items[0].Participants); !strings.Contains(got, carolID) {
		t.Errorf("participants = %s; want carol %q among them", got, carolID)
	}

	buyer.click(`#leave-button`)
	buyer.waitJS("back to an empty chat list", `location.hash === '#/chats' && document.querySelectorAll('#chat-list .chat-row').length === 0 && document.querySelector('.list-status').textContent.includes('No chats')`)
	if st := s.do(t, "GET", "/api/collections/rooms/records/"+roomID, buyerToken, nil, nil); st != http.StatusNotFound {
		t.Errorf("the buyer views the room after leaving: status %d; want 404", st)
	}
	buyer.mu.Lock()
	dialogs := fmt.Sprintf("%q", buyer.dialogs)
	buyer.mu.Unlock()
	if dialogs != `["Leave this chat? You will not see it again."]` {
		t.Errorf("confirm dialogs = %s; want the leave question", dialogs)
	}
	buyer.checkConsole()
}
