package e2e

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryServesContractOnEmptyDataDir starts the shipped binary on an
// empty data dir and walks the contract's main path with no other step:
// schema from migrations, sign-up without verification, a post, the chat
// button (201 then 200), a message, the room's preview and unread, the
// embedded web app and the dashboard.
func TestBinaryServesContractOnEmptyDataDir(t *testing.T) {
	s := startServer(t)

	sellerID, seller := s.signUp(t, "seller@example.com", "Seller")
	_, buyer := s.signUp(t, "buyer@example.com", "Buyer")

	var post struct{ ID, Author, Status string }
	if st := s.do(t, "POST", "/api/collections/posts/records", seller, map[string]any{"title": "Bike", "price": 100}, &post); st != http.StatusOK {
		t.Fatalf("create post: status %d", st)
	}
	if post.Author != sellerID || post.Status != "selling" {
		t.Fatalf("post = %+v; want author %q and status selling", post, sellerID)
	}

	var room struct {
		ID           string
		Participants []string
		Unread       *int
	}
	if st := s.do(t, "POST", "/api/posts/"+post.ID+"/chat", buyer, nil, &room); st != http.StatusCreated {
		t.Fatalf("first chat press: status %d; want 201", st)
	}
	var again struct{ ID string }
	if st := s.do(t, "POST", "/api/posts/"+post.ID+"/chat", buyer, nil, &again); st != http.StatusOK || again.ID != room.ID {
		t.Fatalf("second chat press: status %d, room %q; want 200, %q", st, again.ID, room.ID)
	}
	if room.Unread == nil {
		t.Fatalf("chat answer has no unread: %+v", room)
	}

	if st := s.do(t, "POST", "/api/collections/messages/records", buyer, map[string]any{"room": room.ID, "text": "  Is it still for sale?  "}, nil); st != http.StatusOK {
		t.Fatalf("send message: status %d", st)
	}
	var seen struct {
		LastMessage string `json:"last_message"`
		Unread      int
	}
	if st := s.do(t, "GET", "/api/collections/rooms/records/"+room.ID, seller, nil, &seen); st != http.StatusOK {
		t.Fatalf("seller views room: status %d", st)
	}
	if seen.LastMessage != "Is it still for sale?" || seen.Unread != 1 {
		t.Fatalf("seller's room = %+v; want last_message %q, unread 1", seen, "Is it still for sale?")
	}

	for path, want := range map[string]string{"/": "Market chat", "/_/": "PocketBase"} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, contains %q: %v; want 200 and true", path, res.StatusCode, want, strings.Contains(string(body), want))
		}
		if path == "/" {
			for header, want := range map[string]string{
				"Content-Security-Policy": "script-src 'self'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "same-origin",
			} {
				if got := res.Header.Get(header); !strings.Contains(got, want) {
					t.Errorf("GET / %s = %q; want it to contain %q", header, got, want)
				}
			}
		}
	}

	// The stock "migrate" command is registered (PocketBase does not
	// build it in): on an up-to-date data dir "migrate up" has nothing to do.
	if out, err := exec.Command(binary(t), "migrate", "up", "--dir", s.DataDir).CombinedOutput(); err != nil || !strings.Contains(string(out), "No new migrations") {
		t.Errorf("migrate up = %v\n%s; want success and \"No new migrations\"", err, out)
	}

	s.superuser(t, "admin@example.com", "password1234")
	var su struct{ Token string }
	if st := s.do(t, "POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{
		"identity": "admin@example.com", "password": "password1234",
	}, &su); st != http.StatusOK || su.Token == "" {
		t.Fatalf("superuser sign-in: status %d", st)
	}
}
