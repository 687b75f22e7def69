package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/clone2clone/c2c/node"
	"github.com/clone2clone/c2c/scenario"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/testground/sdk-go/network"
	"github.com/testground/sdk-go/runtime"
)

// errNoShaping is returned when a run asks for link latency on a runner
// without a sidecar (local:exec): nothing could apply it, and a result
// measured without it must not pass for one measured with it.
var errNoShaping = errors.New("latency_ms needs a runner with a sidecar (local:docker, cluster:k8s); local:exec cannot shape traffic")

// prepareNetwork returns the addresses an instance listens on. With a
// sidecar (docker, k8s) that is the data network, shaped to the run's
// one-way latency (the sidecar delays each packet on egress) and cut off
// from the outside; without one, loopback.
func prepareNetwork(ctx context.Context, re *runtime.RunEnv, nc *network.Client, p scenario.Params) ([]ma.Multiaddr, error) {
	if !re.TestSidecar {
		if p.Latency > 0 {
			return nil, errNoShaping
		}
		return node.LoopbackListenAddrs(), nil
	}
	ip, err := nc.GetDataNetworkIP()
	if err != nil {
		return nil, fmt.Errorf("data network address: %w", err)
	}
	err = nc.ConfigureNetwork(ctx, &network.Config{
		Network:       "default",
		Enable:        true,
		Default:       network.LinkShape{Latency: p.Latency},
		CallbackState: "network-shaped",
		RoutingPolicy: network.DenyAll,
	})
	if err != nil {
		return nil, fmt.Errorf("shape the data network: %w", err)
	}
	ip4 := ip.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("data network address %s is not IPv4", ip)
	}
	return node.ListenAddrsOn(ip4.String()), nil
}
