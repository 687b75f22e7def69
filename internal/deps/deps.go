// Package deps pins the module versions the project builds against.
package deps

import (
	_ "github.com/ipfs/go-datastore"
	_ "github.com/ipfs/go-ds-pebble"
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/libp2p/go-libp2p-kad-dht"
	_ "github.com/libp2p/go-libp2p-pubsub"
	_ "github.com/libp2p/go-libp2p-record"
	_ "github.com/multiformats/go-multiaddr"
	_ "github.com/spf13/cobra"
	_ "google.golang.org/protobuf/proto"
	_ "github.com/prometheus/client_golang/prometheus"
)
