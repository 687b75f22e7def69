package node

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestConfigValidate(t *testing.T) {
	boot := []peer.AddrInfo{{ID: "QmPeer", Addrs: []ma.Multiaddr{ma.StringCast("/ip4/1.2.3.4/tcp/4001")}}}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"provider without bootstrap", func(c *Config) { c.Bootstrap = nil }, true},
		{"unknown role", func(c *Config) { c.Role = "router" }, false},
		{"relative data dir", func(c *Config) { c.DataDir = "data" }, false},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, false},
		{"no listen addrs", func(c *Config) { c.ListenAddrs = nil }, false},
		{"clone without bootstrap", func(c *Config) { c.Role = RoleClone }, false},
		{"clone with bootstrap", func(c *Config) { c.Role = RoleClone; c.Bootstrap = boot }, true},
		{"device without listen addrs", func(c *Config) { c.Role = RoleDevice; c.Bootstrap = boot; c.ListenAddrs = nil }, true},
		{"bootstrap without address", func(c *Config) { c.Bootstrap = []peer.AddrInfo{{ID: "QmPeer"}} }, false},
		{"inverted watermarks", func(c *Config) { c.Params.ConnsLow = c.Params.ConnsHigh + 1 }, false},
		{"backoff max below min", func(c *Config) { c.Params.BackoffMax = c.Params.BackoffMin / 2 }, false},
		{"jitter 1", func(c *Config) { c.Params.BackoffJitter = 1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig(RoleProvider, "/var/lib/c2c")
			tc.mutate(&c)
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
	for _, r := range []Role{RoleProvider, RoleClone, RoleSequencer, RoleDevice} {
		if err := DefaultParams(r).Validate(); err != nil {
			t.Errorf("DefaultParams(%s): %v", r, err)
		}
	}
}
