package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver of database/sql, as PocketBase registers it
)

// The write load of the crash and backup tests, its ledger of what the
// clients were told, and the checks of what data.db holds.

// crashLoad is a chat under write load: a superuser, users with tokens,
// rooms they are all in, the writers and the ledger of what the clients
// were told.
type crashLoad struct {
	su      string
	users   []crashUser
	rooms   []string
	writers []*crashWriter

	mu         sync.Mutex
	sent       map[string]crashMessage // every message sent at least once
	acked      map[string]bool         // answered 200
	found      map[string]bool         // answer lost in a crash; the retry's 400 on "id" says it is stored
	tooMany    int                     // flood control's 429s, each retried
	unexpected []string                // any other answer
}

type crashUser struct{ id, token string }

// crashMessage is one send: the id is made by the client, so a retry after
// a crash names the same message.
type crashMessage struct {
	ID, Room, Sender, Text string
	token                  string
}

// crashStored is a message as the server stores it.
type crashStored struct {
	ID, Room, Sender, Text, Created string
}

// newCrashLoad makes the superuser, turns the rate limiter off, signs up
// the writers' users and makes the rooms.
func newCrashLoad(t *testing.T, s *server, rng *rand.Rand) *crashLoad {
	t.Helper()
	s.superuser(t, crashSuperuserEmail, crashPassword)
	var su struct{ Token string }
	if st := s.do(t, "POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{
		"identity": crashSuperuserEmail, "password": crashPassword,
	}, &su); st != http.StatusOK {
		t.Fatalf("superuser sign-in: status %d", st)
	}
	// Every writer here is 127.0.0.1, so the limiter's per-address rules
	// ("/api/" 300 per 10 s, sign-up 10 per minute) would answer the
	// test's own load with 429. In production the writers are different
	// addresses; per-user flood control stays on.
	if st := s.do(t, "PATCH", "/api/settings", su.Token, map[string]any{"rateLimits": map[string]any{"enabled": false}}, nil); st != http.StatusOK {
		t.Fatalf("turn the rate limiter off: status %d", st)
	}

	load := &crashLoad{su: su.Token, sent: map[string]crashMessage{}, acked: map[string]bool{}, found: map[string]bool{}}
	load.users = make([]crashUser, crashWriters*crashUsersPerWriter)
	errs := make([]error, len(load.users))
	var wg sync.WaitGroup
	for i := range load.users {
		// In parallel: a sign-up hashes a password, which is slow on purpose.
		wg.Go(func() { load.users[i], errs[i] = crashSignUp(s.URL, su.Token, i) })
	}
	wg.Wait()
	var participants []string
	for i, u := range load.users {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		participants = append(participants, u.id)
	}
	for range crashRooms {
		var room struct{ ID string }
		if st := s.do(t, "POST", "/api/collections/rooms/records", load.users[0].token, map[string]any{"participants": participants}, &room); st != http.StatusOK {
			t.Fatalf("create room: status %d", st)
		}
		load.rooms = append(load.rooms, room.ID)
	}
	for w := range crashWriters {
		load.writers = append(load.writers, &crashWriter{
			rng:   rand.New(rand.NewPCG(rng.Uint64(), uint64(w))),
			users: load.users[w*crashUsersPerWriter : (w+1)*crashUsersPerWriter],
		})
	}
	return load
}

// runWhile runs the writers against s while during runs, then stops
// them. A during that kills the server ends their requests mid-flight.
func (l *crashLoad) runWhile(t *testing.T, s *server, during func()) {
	t.Helper()
	l.run(t, s, false, func(<-chan struct{}) { during() })
}

// resendPending has every writer resend its unanswered message, if any,
// until each is answered.
func (l *crashLoad) resendPending(t *testing.T, s *server) {
	t.Helper()
	l.run(t, s, true, func(done <-chan struct{}) {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("writers still resending after 30 s")
		}
	})
}

func (l *crashLoad) run(t *testing.T, s *server, onlyPending bool, during func(done <-chan struct{})) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: crashWriters}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	var wg sync.WaitGroup
	for _, w := range l.writers {
		wg.Go(func() { w.run(ctx, client, s.URL, l, onlyPending) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	during(done)
	cancel()
	<-done

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
	l.unexpected = nil
}

// waitAcked waits until at least n messages were answered 200.
func (l *crashLoad) waitAcked(t *testing.T, n int) {
	t.Helper()
	err := waitFor(30*time.Second, 10*time.Millisecond, func() error {
		l.mu.Lock()
		got := len(l.acked)
		l.mu.Unlock()
		if got < n {
			return fmt.Errorf("only %d messages answered 200; want %d", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("within 30 s: %v", err)
	}
}

// stored is the set of messages the server has said it stores (200, or
// 400 "id taken" on a retry).
func (l *crashLoad) stored() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make(map[string]bool, len(l.acked)+len(l.found))
	for id := range l.acked {
		ids[id] = true
	}
	for id := range l.found {
		ids[id] = true
	}
	return ids
}

// crashReport is what check counted.
type crashReport struct{ acked, found, lost, duplicates int }

// check compares stored messages with the ledger: every message the
// server said it stores is there, with the text, room and sender sent; no
// text is stored twice; nothing is stored that no client sent.
func (l *crashLoad) check(t *testing.T, where string, stored []crashStored) crashReport {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()

	byID := map[string]crashStored{}
	perText := map[string]int{}
	for _, m := range stored {
		byID[m.ID] = m
		perText[m.Text]++
		sent, ok := l.sent[m.ID]
		if !ok {
			t.Errorf("%s: message %+v was never sent", where, m)
			continue
		}
		if m.Text != sent.Text || m.Room != sent.Room || m.Sender != sent.Sender {
			t.Errorf("%s: stored %+v; want text %q, room %q, sender %q", where, m, sent.Text, sent.Room, sent.Sender)
		}
	}
	r := crashReport{acked: len(l.acked), found: len(l.found)}
	for _, ids := range []map[string]bool{l.acked, l.found} {
		for id := range ids {
			if _, ok := byID[id]; !ok {
				r.lost++
				if r.lost <= 5 {
					t.Errorf("%s: message %s was answered as stored but is missing", where, id)
				}
			}
		}
	}
	for text, n := range perText {
		if n > 1 {
			r.duplicates++
			t.Errorf("%s: text %q stored %d times; want once", where, text, n)
		}
	}
	if r.lost > 0 {
		t.Errorf("%s: lost %d acknowledged messages; want 0", where, r.lost)
	}
	return r
}

// listMessages lists every message through the API as the superuser.
func (l *crashLoad) listMessages(t *testing.T, s *server) []crashStored {
	t.Helper()
	var all []crashStored
	for page := 1; ; page++ {
		var res struct{ Items []crashStored }
		path := fmt.Sprintf("/api/collections/messages/records?page=%d&perPage=1000&skipTotal=1&sort=created,id&fields=id,room,sender,text,created", page)
		if st := s.do(t, "GET", path, l.su, nil, &res); st != http.StatusOK {
			t.Fatalf("list messages page %d: status %d", page, st)
		}
		all = append(all, res.Items...)
		if len(res.Items) < 1000 {
			return all
		}
	}
}

// crashWriter sends messages one at a time, taking turns between its
// users and picking rooms at random. A message not answered before the
// server went down stays pending and is resent, same id, next time.
type crashWriter struct {
	rng     *rand.Rand
	users   []crashUser
	next    int
	pending *crashMessage
}

func (w *crashWriter) run(ctx context.Context, client *http.Client, baseURL string, l *crashLoad, onlyPending bool) {
	for ctx.Err() == nil {
		if w.pending == nil {
			if onlyPending {
				return
			}
			u := w.users[w.next%len(w.users)]
			w.next++
			m := crashMessage{ID: crashID(w.rng), Room: l.rooms[w.rng.IntN(len(l.rooms))], Sender: u.id, token: u.token}
			m.Text = "crash test " + m.ID
			w.pending = &m
			l.mu.Lock()
			l.sent[m.ID] = m
			l.mu.Unlock()
		}
		status, body, err := w.pending.send(ctx, client, baseURL)
		if err != nil {
			return // killed (or stopped): the message stays pending
		}
		l.mu.Lock()
		switch {
		case status == http.StatusOK:
			l.acked[w.pending.ID] = true
			w.pending = nil
		case status == http.StatusBadRequest && crashIDTaken(body):
			l.found[w.pending.ID] = true
			w.pending = nil
		case status == http.StatusTooManyRequests:
			l.tooMany++
		default:
			l.unexpected = append(l.unexpected, fmt.Sprintf("send %s: %d %s", w.pending.ID, status, body))
			w.pending = nil
		}
		l.mu.Unlock()
		if status == http.StatusTooManyRequests {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// send posts the message; err is any failure to get the whole answer.
func (m *crashMessage) send(ctx context.Context, client *http.Client, baseURL string) (int, []byte, error) {
	return crashPost(ctx, client, baseURL+"/api/collections/messages/records", m.token,
		map[string]string{"id": m.ID, "room": m.Room, "text": m.Text})
}

// crashSignUp signs up user number i and takes a token for it through
// the superuser's impersonation, which skips a second password hash.
func crashSignUp(baseURL, suToken string, i int) (crashUser, error) {
	ctx := context.Background()
	st, raw, err := crashPost(ctx, http.DefaultClient, baseURL+"/api/collections/users/records", "", map[string]any{
		"email": fmt.Sprintf("writer%d@example.com", i), "password": crashPassword, "passwordConfirm": crashPassword,
		"name": fmt.Sprintf("Writer %d", i),
	})
	if err != nil || st != http.StatusOK {
		return crashUser{}, fmt.Errorf("sign up writer %d: %d %s %v", i, st, raw, err)
	}
	var user struct{ ID string }
	if err := json.Unmarshal(raw, &user); err != nil {
		return crashUser{}, fmt.Errorf("sign up writer %d: %w", i, err)
	}
	st, raw, err = crashPost(ctx, http.DefaultClient, baseURL+"/api/collections/users/impersonate/"+user.ID, suToken, map[string]any{})
	if err != nil || st != http.StatusOK {
		return crashUser{}, fmt.Errorf("impersonate writer %d: %d %s %v", i, st, raw, err)
	}
	var auth struct{ Token string }
	if err := json.Unmarshal(raw, &auth); err != nil {
		return crashUser{}, fmt.Errorf("impersonate writer %d: %w", i, err)
	}
	return crashUser{id: user.ID, token: auth.Token}, nil
}

// crashPost posts body as JSON; err is any failure to get the whole
// answer. Unlike server.do it may run outside the test's goroutine.
func crashPost(ctx context.Context, client *http.Client, url, token string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, raw, nil
}

// crashIDTaken reports whether a 400 names "id": the message is stored
// already (the contract's answer to a resent id).
func crashIDTaken(body []byte) bool {
	var res struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return false
	}
	_, ok := res.Data["id"]
	return ok
}

// crashID is a client-made record id: 15 characters of a-z0-9.
func crashID(rng *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 15)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// crashRoom is a room's preview as stored.
type crashRoom struct{ ID, LastMessage, LastMessageAt string }

// crashReadDataDB opens pb_data/data.db of a stopped server, runs PRAGMA
// integrity_check (a failure is fatal) and reads every message and room.
func crashReadDataDB(t *testing.T, dataDir string) ([]crashStored, []crashRoom) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var results []string
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		results = append(results, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(results) != 1 || results[0] != "ok" {
		t.Fatalf("PRAGMA integrity_check = %q; want [ok]", results)
	}

	var messages []crashStored
	rows, err = db.Query("SELECT id, room, sender, text, created FROM messages ORDER BY created, id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m crashStored
		if err := rows.Scan(&m.ID, &m.Room, &m.Sender, &m.Text, &m.Created); err != nil {
			t.Fatal(err)
		}
		messages = append(messages, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	var rooms []crashRoom
	rows, err = db.Query("SELECT id, last_message, last_message_at FROM rooms")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r crashRoom
		if err := rows.Scan(&r.ID, &r.LastMessage, &r.LastMessageAt); err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return messages, rooms
}

// checkRoomPreviews checks that every room's last_message and
// last_message_at are its newest message's, or empty for a room without
// messages: the message and the preview commit together. No two messages
// of a room share a "created" (stampMessage).
func checkRoomPreviews(t *testing.T, where string, rooms []crashRoom, messages []crashStored) {
	t.Helper()
	newest := map[string]string{}           // room -> newest created
	textsAt := map[string]map[string]bool{} // room -> texts with that created
	for _, m := range messages {
		switch {
		case m.Created > newest[m.Room]:
			newest[m.Room] = m.Created
			textsAt[m.Room] = map[string]bool{m.Text: true}
		case m.Created == newest[m.Room]:
			t.Errorf("%s: room %s has two messages created at %s; want each message its own time", where, m.Room, m.Created)
			textsAt[m.Room][m.Text] = true
		}
	}
	if len(rooms) == 0 {
		t.Errorf("%s: no rooms", where)
	}
	for _, r := range rooms {
		if r.LastMessageAt != newest[r.ID] || (r.LastMessage != "" || newest[r.ID] != "") && !textsAt[r.ID][r.LastMessage] {
			t.Errorf("%s: room %s preview = %q at %q; want its newest message's (%q at %q)",
				where, r.ID, r.LastMessage, r.LastMessageAt, sortedKeys(textsAt[r.ID]), newest[r.ID])
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
