package procstat

import (
	"errors"
	"testing"
)

const snmpSample = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 253761 34 0 237860 0 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`

func TestParseUDPOut(t *testing.T) {
	if n, err := ParseUDPOut([]byte(snmpSample)); err != nil || n != 237860 {
		t.Fatalf("got %d, %v; want 237860", n, err)
	}
	for _, bad := range []string{"", "Udp: OutDatagrams\n", "Udp: OutDatagrams\nUdp: x\n", "Udp: A B\nUdp: 1\n"} {
		if _, err := ParseUDPOut([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v, want ErrFormat", bad, err)
		}
	}
	if _, err := UDPOut(); err != nil {
		t.Skipf("no /proc/net/snmp here: %v", err)
	}
}

func FuzzParseUDPOut(f *testing.F) {
	f.Add([]byte(snmpSample))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseUDPOut(b) })
}
