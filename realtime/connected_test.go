package realtime

import "testing"

// TestFanoutConnected: a user counts as connected while a stream signed
// in as them is registered, and stops counting when it ends; a guest
// stream counts for nobody.
func TestFanoutConnected(t *testing.T) {
	t.Parallel()
	n := newNoteApp(t)
	if n.fan.Connected(n.ann.Id) {
		t.Fatalf("Connected(ann) = true before any connection; want false")
	}
	n.client(t, nil, "notes/*")
	c := n.client(t, n.ann, "notes/*")
	if !n.fan.Connected(n.ann.Id) {
		t.Errorf("Connected(ann) = false with her stream open; want true")
	}
	if n.fan.Connected(n.ben.Id) {
		t.Errorf("Connected(ben) = true with only ann's and a guest's streams; want false")
	}
	n.app.SubscriptionsBroker().Unregister(c.Id())
	if n.fan.Connected(n.ann.Id) {
		t.Errorf("Connected(ann) = true after her stream ended; want false")
	}
}
