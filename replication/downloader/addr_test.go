package downloader

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.100.100.200", false}, // a cloud's metadata, in the carrier-NAT space
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"192.0.0.170", false},
		{"198.18.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false}, // a cloud's IPv6 metadata
		{"fe80::1", false},
		{"ff02::1", false},
		{"::", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::5db8:d822", true},  // NAT64 of a public address
		{"64:ff9b:1::a00:1", false},   // local-use NAT64 of 10.0.0.1
		{"2002:a9fe:a9fe::1", false},  // 6to4 of 169.254.169.254
		{"2002:5db8:d822::1", true},   // 6to4 of a public address
		{"100::1", false},
		{"::7f00:1", false},    // IPv4-compatible 127.0.0.1
		{"::a9fe:a9fe", false}, // IPv4-compatible 169.254.169.254
	} {
		if got := publicAddr(netip.MustParseAddr(tc.ip)); got != tc.public {
			t.Errorf("publicAddr(%s) = %v, want %v", tc.ip, got, tc.public)
		}
	}
}

// The real client refuses a loopback server by address and by a name that
// resolves to it (the dial checks the address connected to, so neither a
// redirect nor a DNS answer that rebinds gets past it), and follows no
// redirect to it either.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("internal"))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	p := DefaultParams()
	c := newClient(p)
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		_, err := fetchOnce(context.Background(), c, p, u, Fresh(), nil, func(Progress) {})
		if !errors.Is(err, ErrPrivate) {
			t.Errorf("%s: err %v, want ErrPrivate", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
}

func TestRedacted(t *testing.T) {
	if got := redacted("https://alice:s3cret@example.com/f?x=1"); strings.Contains(got, "s3cret") || !strings.Contains(got, "example.com/f") {
		t.Fatalf("redacted: %q", got)
	}
}
