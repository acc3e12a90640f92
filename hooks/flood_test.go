package hooks_test

// Per-user flood control (flood.go): the message over FloodMaxMessages
// within FloodWindow answers 429; only stored messages count.

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/marketchat/marketchat/hooks"
)

// TestMessagesFloodControl: bob's 31st message within the window gets 429
// while alice, sending at the same time, is unaffected.
func TestMessagesFloodControl(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	srv := serveTestApp(t, app)
	const url = "/api/collections/messages/records"
	message := func(i int) string { return fmt.Sprintf(`{"room":%q,"text":"message %d"}`, roomBike, i) }

	// alice sends alongside bob's burst.
	aliceStatuses := make(chan int, 6)
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Go(func() {
		<-start
		for i := range 5 {
			status, body, err := sendJSON(srv, http.MethodPost, url, tokens[alice], message(100+i))
			if err != nil {
				t.Error(err)
				return
			}
			if status != http.StatusOK {
				t.Logf("alice's send %d: %s", i, body)
			}
			aliceStatuses <- status
		}
	})

	began := time.Now()
	close(start)
	for i := range hooks.FloodMaxMessages {
		if status, body := doJSON(t, srv, http.MethodPost, url, tokens[bob], message(i)); status != http.StatusOK {
			t.Fatalf("bob's send %d = %d %s; want 200", i+1, status, body)
		}
	}
	status, body := doJSON(t, srv, http.MethodPost, url, tokens[bob], message(hooks.FloodMaxMessages))
	if elapsed := time.Since(began); elapsed >= hooks.FloodWindow {
		t.Fatalf("bob's burst took %v, longer than the flood window %v: the 429 cannot be checked", elapsed, hooks.FloodWindow)
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("bob's send %d = %d %s; want 429", hooks.FloodMaxMessages+1, status, body)
	}
	checkErrorJSON(t, body, http.StatusTooManyRequests)

	wg.Wait()
	if status, body := doJSON(t, srv, http.MethodPost, url, tokens[alice], message(200)); status != http.StatusOK {
		t.Errorf("alice's send after bob's 429 = %d %s; want 200", status, body)
	}
	close(aliceStatuses)
	for status := range aliceStatuses {
		if status != http.StatusOK {
			t.Errorf("alice's send during bob's burst = %d; want 200", status)
		}
	}

	fromBob := countRecords(t, app, "messages", dbx.HashExp{"room": roomBike, "sender": bob})
	if want := 1 + hooks.FloodMaxMessages; fromBob != want { // the fixture message + the accepted burst
		t.Errorf("bob's stored messages = %d; want %d", fromBob, want)
	}
}

// TestMessagesFloodControlConcurrentBurst: 40 simultaneous sends by one
// user store exactly FloodMaxMessages and answer 429 for the rest.
func TestMessagesFloodControlConcurrentBurst(t *testing.T) {
	t.Parallel()
	const sends = 40
	app := newTestApp(t)
	srv := serveTestApp(t, app)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range sends {
		wg.Go(func() {
			<-start
			body := fmt.Sprintf(`{"room":%q,"text":"burst %d"}`, roomGroup, i)
			status, _, err := sendJSON(srv, http.MethodPost, "/api/collections/messages/records", tokens[dave], body)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	if elapsed := time.Since(began); elapsed >= hooks.FloodWindow {
		t.Fatalf("burst took %v, longer than the flood window %v", elapsed, hooks.FloodWindow)
	}

	want := map[int]int{http.StatusOK: hooks.FloodMaxMessages, http.StatusTooManyRequests: sends - hooks.FloodMaxMessages}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses of %d simultaneous sends = %v; want %v", sends, statuses, want)
	}
	stored := countRecords(t, app, "messages", dbx.HashExp{"room": roomGroup, "sender": dave})
	if want := 1 + hooks.FloodMaxMessages; stored != want {
		t.Errorf("dave's stored messages = %d; want %d", stored, want)
	}
}

// TestMessagesFloodControlCountsAcceptedOnly: refused messages do not use
// up the flood allowance.
func TestMessagesFloodControlCountsAcceptedOnly(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	srv := serveTestApp(t, app)
	const url = "/api/collections/messages/records"

	began := time.Now()
	for i := range hooks.FloodMaxMessages {
		empty := fmt.Sprintf(`{"room":%q,"text":"   "}`, roomBike)
		if status, body := doJSON(t, srv, http.MethodPost, url, tokens[bob], empty); status != http.StatusBadRequest {
			t.Fatalf("bob's empty send %d = %d %s; want 400", i+1, status, body)
		}
	}
	for i := range hooks.FloodMaxMessages {
		text := fmt.Sprintf(`{"room":%q,"text":"message %d"}`, roomBike, i)
		if status, body := doJSON(t, srv, http.MethodPost, url, tokens[bob], text); status != http.StatusOK {
			t.Fatalf("bob's send %d after %d refused ones = %d %s; want 200", i+1, hooks.FloodMaxMessages, status, body)
		}
	}
	if elapsed := time.Since(began); elapsed >= hooks.FloodWindow {
		t.Fatalf("sends took %v, longer than the flood window %v", elapsed, hooks.FloodWindow)
	}
}
