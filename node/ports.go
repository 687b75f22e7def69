package node

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
)

// ListenFile, in the data dir, remembers the addresses a node listened on,
// so that a restarted node asked for port 0 comes back on the same ports.
//
// That matters for QUIC: a peer holding a connection to the node's previous
// process keeps sending on it, and only a process on the same UDP port can
// answer with a stateless reset (keyed by the identity) that ends the stale
// connection at once. On another port the stale connection lingers until
// QUIC's idle timeout, and gossipsub keeps routing the peer's messages into
// it. Stable addresses also keep directory address hints valid.
const ListenFile = "listen"

// stickyListenAddrs returns want with each port-0 TCP or UDP address
// replaced by the remembered address that differs from it only in its port.
func stickyListenAddrs(want, remembered []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(want))
	for i, w := range want {
		out[i] = w
		if !hasZeroPort(w) {
			continue
		}
		for _, r := range remembered {
			if !hasZeroPort(r) && withZeroPorts(r).Equal(w) {
				out[i] = r
				break
			}
		}
	}
	return out
}

// hasPort reports whether a has a TCP or UDP component.
func hasPort(a ma.Multiaddr) bool { return slices.ContainsFunc(a, isPort) }

// hasZeroPort reports whether a asks for any free TCP or UDP port.
func hasZeroPort(a ma.Multiaddr) bool {
	return slices.ContainsFunc(a, func(c ma.Component) bool { return isPort(c) && c.Value() == "0" })
}

func isPort(c ma.Component) bool {
	code := c.Protocol().Code
	return code == ma.P_TCP || code == ma.P_UDP
}

// withZeroPorts returns a with its TCP and UDP ports set to 0.
func withZeroPorts(a ma.Multiaddr) ma.Multiaddr {
	out := make(ma.Multiaddr, 0, len(a))
	for _, c := range a {
		if isPort(c) {
			z, err := ma.NewComponent(c.Protocol().Name, "0")
			if err != nil {
				return a
			}
			out = append(out, *z)
			continue
		}
		out = append(out, c)
	}
	return out
}

// readListenFile returns the addresses remembered in dir; none if absent or
// unreadable (a fresh node, or a hand-edited file: ports are only a hint).
func readListenFile(dir string) []ma.Multiaddr {
	b, err := os.ReadFile(filepath.Join(dir, ListenFile))
	if err != nil || len(b) > 64<<10 {
		return nil
	}
	var out []ma.Multiaddr
	for _, line := range strings.Fields(string(b)) {
		if a, err := ma.NewMultiaddr(line); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// writeListenFile remembers addrs that have a TCP or UDP port (not, say,
// /p2p-circuit).
func writeListenFile(dir string, addrs []ma.Multiaddr) error {
	var b strings.Builder
	for _, a := range addrs {
		if !hasPort(a) {
			continue
		}
		b.WriteString(a.String())
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, ListenFile), []byte(b.String()), 0o600)
}
