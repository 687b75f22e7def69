package downloader

import "net/netip"

// notPublic are the ranges a download never connects to (unless
// Params.AllowPrivate) beyond what netip's predicates name: the
// shared-address space of carrier NAT, where some clouds put their
// metadata service (100.100.100.200), "this network", the IETF protocol
// assignments, benchmarking, the reserved block and broadcast, and the
// IPv6 prefixes that embed an IPv4 address (NAT64, 6to4), which reach the
// embedded address through a gateway and are checked as that address.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"), // reserved, and 255.255.255.255
	netip.MustParsePrefix("100::/64"),    // discard-only
	netip.MustParsePrefix("::/96"),       // IPv4-compatible (deprecated; a sit tunnel reaches the IPv4 address)
}

// embedsIPv4 are IPv6 prefixes whose addresses carry an IPv4 address: at
// the end (NAT64: the well-known and the local-use prefix), or in bits
// 16-47 (6to4).
var (
	nat64  = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// publicAddr reports whether a download may connect to ip: not loopback,
// private, link-local, unspecified, multicast or one of notPublic, and,
// for an IPv6 address that embeds an IPv4 one, neither is that.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		for _, p := range nat64 {
			if p.Contains(ip) {
				return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
			}
		}
		if sixTo4.Contains(ip) {
			return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}
