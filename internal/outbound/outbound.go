// Package outbound is the one guard on every address lifeboat calls that a
// user or an API client supplied: notifiers' URLs and storage endpoints.
// The address is checked when the socket connects, after DNS, against the
// public internet plus the config file's outbound.allow prefixes.
package outbound

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one whole delivery (connect, request, response) when
// NewClient is given no timeout.
const DefaultTimeout = 10 * time.Second

// RefusedError is returned (wrapped in the dial and url errors) when a
// user-supplied URL resolves to an address lifeboat must not call.
type RefusedError struct {
	Addr   netip.Addr
	Reason string // loopback, link-local, unspecified, multicast, broadcast, private
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("outbound address %s refused: %s (add it to outbound.allow to permit)", e.Addr, e.Reason)
}

// NewClient returns the HTTP client every user-supplied URL (chat, heartbeat,
// webhook) is called through. The address is checked when the socket
// connects, after DNS, so a name that resolves (or re-resolves) to an
// internal address cannot dodge the check: loopback, link-local (cloud
// metadata included), unspecified, multicast and private addresses are
// refused unless inside one of the allow prefixes. Redirects are not
// followed (a 3xx is returned to the caller as the response) and environment
// proxies are ignored, since a proxy would connect on our behalf unchecked.
func NewClient(allow []netip.Prefix, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{
		Timeout: timeout,
		Control: Control(allow),
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Control is the net.Dialer Control function that refuses internal
// addresses outside allow: for clients that build their own transport
// (the S3 SDK's), so they are checked exactly as NewClient's.
func Control(allow []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return guard{allow: normalizePrefixes(allow)}.control
}

// ParseAllow parses outbound.allow's CIDRs.
func ParseAllow(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("outbound.allow: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

type guard struct {
	allow []netip.Prefix
}

// control runs after the socket is created and before it connects, with the
// numeric address actually being dialled.
func (g guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: we only dial TCP to numeric addresses.
		return fmt.Errorf("outbound address %q refused: not an IP address", address)
	}
	addr := ap.Addr()
	if g.allowed(addr) {
		return nil
	}
	if reason := refusal(addr); reason != "" {
		return &RefusedError{Addr: addr, Reason: reason}
	}
	return nil
}

func (g guard) allowed(addr netip.Addr) bool {
	a := addr.WithZone("").Unmap()
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalizePrefixes turns IPv4-mapped prefixes (::ffff:10.0.0.0/104) into
// IPv4 ones, so they match the unmapped addresses allowed() compares.
func normalizePrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

var (
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
		netip.MustParsePrefix("fc00::/7"),      // unique local
		netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
	}
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8") // connects to the local host on Linux
	broadcast   = netip.MustParseAddr("255.255.255.255")
	// IPv6 forms that carry an IPv4 address a gateway or the kernel may reach.
	embeddedV4 = []netip.Prefix{
		netip.MustParsePrefix("64:ff9b::/96"), // NAT64
		netip.MustParsePrefix("::/96"),        // deprecated IPv4-compatible
	}
)

// refusal returns why addr may not be called, or "" when it is public.
func refusal(addr netip.Addr) string {
	a := addr.WithZone("").Unmap()
	if a.Is6() {
		for _, p := range embeddedV4 {
			if p.Contains(a) && !a.IsUnspecified() && a != netip.IPv6Loopback() {
				b := a.As16()
				if r := refusal(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
					return r
				}
			}
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	case a == broadcast:
		return "broadcast"
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return "private"
		}
	}
	return ""
}
