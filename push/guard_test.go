package push

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers from a table; an unknown name does not resolve.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// TestGuardCheckEndpoint: only https URLs whose every address is public
// pass; with AllowPrivate, http and private addresses pass too. No
// address here is ever dialled.
func TestGuardCheckEndpoint(t *testing.T) {
	t.Parallel()
	resolver := fakeResolver{
		"push.example.com":    {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"intranet.example":    {"10.1.2.3"},
		"loop.example":        {"127.0.0.1"},
		"mixed.example":       {"93.184.216.34", "192.168.1.10"},
		"metadata.example":    {"169.254.169.254"},
		"mapped.example":      {"::ffff:127.0.0.1"},
		"mapped-pub.example":  {"::ffff:93.184.216.34"},
		"ula.example":         {"fd00::1"},
		"v6loop.example":      {"::1"},
		"cgnat.example":       {"100.64.0.1"},
		"nat64.example":       {"64:ff9b::7f00:1"},
		"sixtofour.example":   {"2002:7f00:1::1"},
		"unspecified.example": {"0.0.0.0"},
		"empty.example":       {},
	}
	tests := []struct {
		endpoint     string
		allowPrivate bool
		ok           bool
	}{
		{"https://push.example.com/send/abc", false, true},
		{"https://93.184.216.34/send", false, true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/send", false, true},
		{"http://push.example.com/send/abc", false, false},
		{"ftp://push.example.com/x", false, false},
		{"https://user:pw@push.example.com/x", false, false},
		{"/relative/path", false, false},
		{"https://", false, false},
		{"https://intranet.example/x", false, false},
		{"https://loop.example/x", false, false},
		{"https://mixed.example/x", false, false},
		{"https://metadata.example/latest", false, false},
		{"https://mapped.example/x", false, false},
		{"https://mapped-pub.example/x", false, false},
		{"https://ula.example/x", false, false},
		{"https://v6loop.example/x", false, false},
		{"https://cgnat.example/x", false, false},
		{"https://nat64.example/x", false, false},
		{"https://sixtofour.example/x", false, false},
		{"https://unspecified.example/x", false, false},
		{"https://empty.example/x", false, false},
		{"https://unknown.example/x", false, false},
		{"https://127.0.0.1/x", false, false},
		{"https://127.1/x", false, false},
		{"https://[::1]/x", false, false},
		{"https://[::ffff:127.0.0.1]/x", false, false},
		{"https://[::ffff:7f00:1]/x", false, false},
		{"https://[fe80::1%25eth0]/x", false, false},
		{"https://169.254.169.254/x", false, false},
		{"https://10.0.0.1/x", false, false},
		{"https://172.16.5.4/x", false, false},
		{"https://192.168.0.1/x", false, false},
		{"https://localhost/x", false, false},
		{"https://push.example.com/" + string(make([]byte, MaxEndpointLength)), false, false},
		// serve --push-allow-private
		{"http://127.0.0.1:8080/x", true, true},
		{"https://intranet.example/x", true, true},
		{"https://unknown.example/x", true, false},
		{"ftp://127.0.0.1/x", true, false},
	}
	for _, tt := range tests {
		g := Guard{AllowPrivate: tt.allowPrivate, Resolver: resolver}
		err := g.CheckEndpoint(context.Background(), tt.endpoint)
		if (err == nil) != tt.ok {
			t.Errorf("Guard{AllowPrivate: %v}.CheckEndpoint(%.60q) = %v; want ok %v", tt.allowPrivate, tt.endpoint, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("CheckEndpoint(%.60q) = %v; want an error wrapping ErrRefused", tt.endpoint, err)
		}
	}
}

// TestGuardClientChecksEveryConnection: a name that passed the check when
// saved but resolves to loopback when the message is sent is not dialled;
// neither is a literal private address.
func TestGuardClientChecksEveryConnection(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()

	answers := fakeResolver{"push.example.com": {"93.184.216.34"}}
	g := Guard{Resolver: answers}
	endpoint := "https://push.example.com:" + itoa(port) + "/send"
	if err := g.CheckEndpoint(context.Background(), endpoint); err != nil {
		t.Fatalf("CheckEndpoint(%q) at save time = %v; want nil", endpoint, err)
	}
	answers["push.example.com"] = []string{"127.0.0.1"} // the DNS answer changed

	client := g.Client(2 * time.Second)
	for _, target := range []string{endpoint, srv.URL + "/send"} {
		res, err := client.Post(target, "application/octet-stream", nil)
		if err == nil {
			res.Body.Close()
			t.Errorf("POST %s = %d; want the connection refused by the guard", target, res.StatusCode)
		} else if !errors.Is(err, ErrRefused) {
			t.Errorf("POST %s = %v; want an error wrapping ErrRefused", target, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests; want 0", n)
	}

	// The positive control: the same client with AllowPrivate reaches it.
	open := Guard{AllowPrivate: true, Resolver: answers}.Client(2 * time.Second)
	res, err := open.Post("http://push.example.com:"+itoa(port)+"/send", "application/octet-stream", nil)
	if err != nil {
		t.Fatalf("POST with AllowPrivate = %v; want 201", err)
	}
	res.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("the loopback server got %d requests with AllowPrivate; want 1", hits.Load())
	}
}

// TestGuardClientFollowsNoRedirect: a push service's redirect is answered
// as it is; its target is never asked.
func TestGuardClientFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/admin", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	client := Guard{AllowPrivate: true}.Client(2 * time.Second)
	res, err := client.Post(redirector.URL, "application/octet-stream", nil)
	if err != nil {
		t.Fatalf("POST = %v; want the redirect answered", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || targetHits.Load() != 0 {
		t.Errorf("POST answered %d, target asked %d times; want 307 and 0", res.StatusCode, targetHits.Load())
	}
}

func itoa(port uint16) string { return strconv.Itoa(int(port)) }
