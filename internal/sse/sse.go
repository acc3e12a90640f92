// Package sse reads server-sent events (text/event-stream), as PocketBase's
// realtime API sends them. It serves the load generator (cmd/loadgen) and
// the realtime tests, which speak the wire protocol without a browser.
//
// Example usage:
//
//	br := bufio.NewReader(resp.Body)
//	for {
//		ev, err := sse.ReadEvent(br)
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.Name, string(ev.Data))
//	}
package sse

import (
	"bufio"
	"bytes"
)

// Event is one server-sent event.
type Event struct {
	Name string // the "event" field
	Data []byte // the "data" lines, joined with "\n"
}

// ReadEvent reads the next event. Fields are "name:value" (one optional
// space after the colon); "data" lines are joined with "\n"; a blank line
// ends the event; comments (":...") and other fields are skipped. It
// returns the reader's error (io.EOF at the end of the stream).
func ReadEvent(br *bufio.Reader) (Event, error) {
	var ev Event
	var data [][]byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if ev.Name == "" && data == nil {
				continue
			}
			ev.Data = bytes.Join(data, []byte("\n"))
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			data = append(data, value)
		}
	}
}
