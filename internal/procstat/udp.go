package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// ParseUDPOut returns OutDatagrams of the Udp lines of /proc/net/snmp: a
// header line of field names and a line of their values, both starting
// "Udp:".
func ParseUDPOut(snmp []byte) (uint64, error) {
	var names, values [][]byte
	for _, line := range bytes.Split(snmp, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("Udp:"))
		if !ok {
			continue
		}
		if names == nil {
			names = bytes.Fields(rest)
		} else {
			values = bytes.Fields(rest)
			break
		}
	}
	if values == nil || len(names) != len(values) {
		return 0, fmt.Errorf("%w: no Udp header and values in /proc/net/snmp", ErrFormat)
	}
	for i, n := range names {
		if string(n) == "OutDatagrams" {
			v, err := strconv.ParseUint(string(values[i]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: OutDatagrams %q", ErrFormat, values[i])
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: no OutDatagrams in /proc/net/snmp", ErrFormat)
}

// UDPOut is the UDP datagrams this network namespace has sent (every
// process's: on loopback, each QUIC packet counts once).
func UDPOut() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return ParseUDPOut(b)
}
