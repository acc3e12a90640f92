package realtime

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// TestAppendSSEMatchesWriteSSE: the taken-over streams frame events byte
// for byte as PocketBase's loop does.
func TestAppendSSEMatchesWriteSSE(t *testing.T) {
	for _, m := range []subscriptions.Message{
		{Name: "PB_CONNECT", Data: []byte(`{"clientId":"abc"}`)},
		{Name: `messages/*?options={"query":{"filter":"room = \"x\""}}`, Data: []byte(`{"action":"create","record":{}}`)},
		{Name: "posts/*", Data: nil},
	} {
		var want, got bytes.Buffer
		if err := m.WriteSSE(&want, "client0123456789"); err != nil {
			t.Fatal(err)
		}
		appendSSE(&got, "client0123456789", &m)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("appendSSE(%q) = %q; want %q", m.Name, got.Bytes(), want.Bytes())
		}
	}
}

// TestStreamClientCutsOffStalledReader: a taken-over stream's Send never
// blocks and holds at most clientBufferSize events; the send that finds
// the queue full discards the client, which frees its places in the
// indexes and closes the connection.
func TestStreamClientCutsOffStalledReader(t *testing.T) {
	f := newIndexedFanout()
	server, client := net.Pipe()
	defer client.Close()
	// c.writing is true until the response head is out (headWritten), so
	// nothing is written here: the queue only fills.
	c := newStreamClient(f, "127.0.0.1", server)
	overflow(t, f, c, "queue")

	if c.pending != nil {
		t.Errorf("%d events still queued after discard; want none", len(c.pending))
	}
	checkForgotten(t, f)
	client.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the peer reads %d bytes, %v; want EOF (the connection closed)", n, err)
	}
}

// TestStreamWriterCoalescesAndExits: events queued while a write is in
// flight go out together in the next write, and the writer goroutine
// exits once the queue is empty, leaving nothing held.
func TestStreamWriterCoalescesAndExits(t *testing.T) {
	f := &Fanout{byAddress: map[string]int{}}
	server, client := net.Pipe()
	defer client.Close()
	c := newStreamClient(f, "127.0.0.1", server)
	c.headWritten()

	c.Send(subscriptions.Message{Name: "a", Data: []byte("1")}) // the writer starts and blocks: nobody reads yet
	waitUntil(t, "the writer takes event a", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == 0
	})
	c.Send(subscriptions.Message{Name: "b", Data: []byte("2")})
	c.Send(subscriptions.Message{Name: "c", Data: []byte("3")})

	id := c.Id()
	buf := make([]byte, 4096)
	client.SetReadDeadline(time.Now().Add(time.Second))
	n, err := client.Read(buf) // the first write: event a alone
	if err != nil {
		t.Fatal(err)
	}
	if want := "id:" + id + "\nevent:a\ndata:1\n\n"; string(buf[:n]) != want {
		t.Fatalf("first write %q; want %q", buf[:n], want)
	}
	n, err = client.Read(buf) // the second: b and c in one write
	if err != nil {
		t.Fatal(err)
	}
	if want := "id:" + id + "\nevent:b\ndata:2\n\nid:" + id + "\nevent:c\ndata:3\n\n"; string(buf[:n]) != want {
		t.Fatalf("second write %q; want %q (both events in one write)", buf[:n], want)
	}

	waitUntil(t, "the writer exits with nothing left to write, holding nothing", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing && c.pending == nil
	})
	f.streams.running.Wait() // the writer goroutine has returned
}

// waitUntil polls cond for up to a second.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a second", what)
		}
		time.Sleep(time.Millisecond)
	}
}
