package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Push endpoints are URLs chosen by clients, and the server POSTs to them:
// without a guard, anyone signed in could make the server call its own
// admin ports, the cloud's metadata service or the office printer. The
// guard allows only https URLs whose host resolves to public addresses
// only, and checks again at every connection, on the addresses actually
// dialled (a name that resolved to a public address when the subscription
// was saved may resolve to 127.0.0.1 by the time a message is sent).
// Redirects are never followed.

// MaxEndpointLength bounds an endpoint URL (real ones are under 500 bytes).
const MaxEndpointLength = 2048

// ErrRefused is wrapped by every refusal of the guard.
var ErrRefused = errors.New("push endpoint refused")

// Resolver looks up a host's addresses; *net.Resolver is one. Tests give
// their own to make names resolve where they like.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which endpoints the server may send to.
type Guard struct {
	// AllowPrivate lets endpoints use http and private, loopback and
	// link-local addresses (serve --push-allow-private: tests, intranets
	// with their own push service).
	AllowPrivate bool

	// Resolver resolves endpoint hosts; nil means net.DefaultResolver.
	Resolver Resolver
}

func (g Guard) resolver() Resolver {
	if g.Resolver != nil {
		return g.Resolver
	}
	return net.DefaultResolver
}

// CheckEndpoint returns nil if raw is an endpoint the server may send to:
// an absolute https URL (http too with AllowPrivate) without user info,
// whose host resolves, and only to public addresses. Every refusal wraps
// ErrRefused and says why in words fit for the client.
func (g Guard) CheckEndpoint(ctx context.Context, raw string) error {
	if len(raw) > MaxEndpointLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrRefused, MaxEndpointLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: not an absolute URL", ErrRefused)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.AllowPrivate:
	default:
		return fmt.Errorf("%w: the scheme must be https", ErrRefused)
	}
	if u.User != nil {
		return fmt.Errorf("%w: no user info allowed", ErrRefused)
	}
	_, err = g.addresses(ctx, u.Hostname())
	return err
}

// addresses resolves host (or parses it, when it is an address) and
// returns its addresses, or an error wrapping ErrRefused when any of them
// is not allowed or there is none.
func (g Guard) addresses(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []netip.Addr{addr}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err = g.resolver().LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("%w: the host %q does not resolve", ErrRefused, host)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("%w: the host %q has no address", ErrRefused, host)
		}
	}
	if g.AllowPrivate {
		return addrs, nil
	}
	// Every address, not just the first: a name with one public and one
	// private address would otherwise reach the private one sometimes.
	for _, addr := range addrs {
		if !IsPublic(addr) {
			return nil, fmt.Errorf("%w: the host %q is not on a public address", ErrRefused, host)
		}
	}
	return addrs, nil
}

// notPublic are ranges that IsPublic refuses beyond what netip's own
// predicates cover: shared (carrier-grade NAT), "this network", IETF
// protocol assignments, documentation, benchmarking, reserved, and IPv6
// prefixes that embed an IPv4 address (NAT64, 6to4, Teredo) or are for
// documentation, where the embedded address could be a private one.
var notPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "2001::/32", "2001:db8::/32", "2002::/16", "100::/64",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// IsPublic reports whether addr is a global unicast address outside the
// private, loopback, link-local, shared, reserved and documentation
// ranges. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are refused
// whatever they map to: no push service uses them, and some stacks dial
// the IPv4 address behind them.
func IsPublic(addr netip.Addr) bool {
	if !addr.IsValid() || addr.Is4In6() || addr.Zone() != "" {
		return false
	}
	if !addr.IsGlobalUnicast() || addr.IsPrivate() || addr.IsLoopback() ||
		addr.IsLinkLocalUnicast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// Client returns an HTTP client that dials only addresses the guard
// allows, resolved at each connection, and follows no redirect (a push
// service answers 201; a redirect is an attempt to point the server
// elsewhere). timeout bounds each request, answer included.
func (g Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	transport := &http.Transport{
		Proxy: nil, // a proxy would dial for us, past the guard
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			addrs, err := g.addresses(ctx, host)
			if err != nil {
				return nil, err
			}
			var firstErr error
			for _, addr := range addrs {
				conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(addr.String(), port))
				if err == nil {
					return conn, nil
				}
				if firstErr == nil {
					firstErr = err
				}
			}
			return nil, firstErr
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: timeout,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
