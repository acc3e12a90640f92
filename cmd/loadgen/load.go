package main

import (
	"context"
	"math/rand/v2"
	"time"

	"golang.org/x/sync/errgroup"
)

// makePlan picks the sender of each of total messages: every room user in
// turn, in a fresh random order each round, so that no user sends more
// than its share (flood control allows 30 messages per user in 10 s).
func makePlan(total, roomUsers int, rng *rand.Rand) []int32 {
	plan := make([]int32, total)
	order := make([]int32, roomUsers)
	for i := range order {
		order[i] = int32(i)
	}
	for seq := range total {
		k := seq % roomUsers
		if k == 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		plan[seq] = order[k]
	}
	return plan
}

// runLoad sends tr.plan open-loop: message seq is due at start+seq/rate,
// whatever happened to the earlier ones. Each send runs in its own
// goroutine, at most senders at a time; a message due while all senders
// are busy is not sent and counted as "skipped" (the generator, not the
// server, would be the bottleneck). It returns when every send has
// finished, each bounded by sendTimeout.
func runLoad(ctx context.Context, a *api, w *world, tr *tracker, rate float64, senders int, sendTimeout time.Duration) {
	total := len(tr.plan)
	interval := time.Duration(float64(time.Second) / rate)
	tick := min(max(interval, time.Millisecond), 10*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	var senderGroup errgroup.Group
	senderGroup.SetLimit(senders)
	send := func(seq int) {
		u := int(tr.plan[seq])
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		start := time.Now()
		body := map[string]string{"room": w.roomIDs[u/2], "text": messageText(seq, start.UnixNano())}
		status, err := a.do(sctx, "POST", "/api/collections/messages/records", w.tokens[u], body, nil)
		m := &tr.msgs[seq]
		m.createNs.Store(int64(time.Since(start)))
		if status == 0 {
			status = statusTransport
		}
		m.status.Store(int32(status))
		if err != nil {
			tr.noteError(status, err)
		}
	}

	start := time.Now()
	next := 0
	for next < total {
		due := min(int(time.Since(start).Seconds()*rate)+1, total)
		for ; next < due; next++ {
			seq := next
			if !senderGroup.TryGo(func() error { send(seq); return nil }) {
				tr.msgs[seq].status.Store(statusSkipped)
			}
		}
		if next >= total {
			break
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			next = total // the rest stay statusPending: "aborted"
		}
	}
	if err := senderGroup.Wait(); err != nil { // never: send reports through tr
		tr.noteError(statusTransport, err)
	}
}
