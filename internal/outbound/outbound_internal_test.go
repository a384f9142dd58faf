package outbound

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefusal(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"127.0.0.1":          "loopback",
		"127.5.6.7":          "loopback",
		"::1":                "loopback",
		"::ffff:127.0.0.1":   "loopback",
		"169.254.169.254":    "link-local",
		"fe80::1":            "link-local",
		"fe80::1%eth0":       "link-local",
		"::ffff:169.254.1.1": "link-local",
		"0.0.0.0":            "unspecified",
		"0.1.2.3":            "unspecified",
		"::":                 "unspecified",
		"224.0.0.1":          "multicast",
		"ff02::1":            "multicast",
		"255.255.255.255":    "broadcast",
		"10.0.0.1":           "private",
		"172.16.0.1":         "private",
		"172.31.255.255":     "private",
		"192.168.1.1":        "private",
		"100.64.0.1":         "private",
		"100.127.255.254":    "private",
		"fc00::1":            "private",
		"fd12:3456::1":       "private",
		"::ffff:10.0.0.1":    "private",
		"::ffff:192.168.0.1": "private",
		"64:ff9b::a00:1":     "private", // NAT64 of 10.0.0.1
		"64:ff9b::7f00:1":    "loopback",
		"8.8.8.8":            "",
		"172.32.0.1":         "",
		"100.128.0.1":        "",
		"2606:4700::1111":    "",
		"::ffff:8.8.8.8":     "",
		"64:ff9b::808:808":   "",
	}
	for addr, want := range cases {
		require.Equal(t, want, refusal(netip.MustParseAddr(addr)), addr)
	}
}

func TestGuardAllow(t *testing.T) {
	t.Parallel()
	g := guard{allow: normalizePrefixes([]netip.Prefix{
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("::ffff:192.168.5.0/120"),
	})}
	require.NoError(t, g.control("tcp4", "10.20.3.4:443", nil))
	require.NoError(t, g.control("tcp6", "[::ffff:10.20.3.4]:443", nil))
	require.NoError(t, g.control("tcp4", "192.168.5.9:80", nil))
	require.NoError(t, g.control("tcp4", "93.184.216.34:443", nil))
	require.EqualError(t, g.control("tcp4", "10.21.0.1:443", nil),
		"outbound address 10.21.0.1 refused: private (add it to outbound.allow to permit)")
	require.Error(t, g.control("unix", "/run/x.sock", nil))
}
