package sse

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadEvent(t *testing.T) {
	stream := "id:abc\nevent:PB_CONNECT\ndata:{\"clientId\":\"abc\"}\n\n" +
		": a comment\n\n" +
		"event: messages/*\r\ndata: line one\r\ndata:line two\r\n\r\n" +
		"data:no name\n\n"
	br := bufio.NewReader(strings.NewReader(stream))
	want := []Event{
		{Name: "PB_CONNECT", Data: []byte(`{"clientId":"abc"}`)},
		{Name: "messages/*", Data: []byte("line one\nline two")},
		{Name: "", Data: []byte("no name")},
	}
	for i, w := range want {
		got, err := ReadEvent(br)
		if err != nil {
			t.Fatalf("ReadEvent #%d: %v", i, err)
		}
		if got.Name != w.Name || string(got.Data) != string(w.Data) {
			t.Errorf("ReadEvent #%d = {%q, %q}; want {%q, %q}", i, got.Name, got.Data, w.Name, w.Data)
		}
	}
	if _, err := ReadEvent(br); !errors.Is(err, io.EOF) {
		t.Errorf("ReadEvent at the end = %v; want io.EOF", err)
	}
}
