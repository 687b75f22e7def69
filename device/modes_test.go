package device_test

import (
	"github.com/clone2clone/c2c/device"
	"github.com/clone2clone/c2c/device/client"
	"github.com/clone2clone/c2c/device/direct"
)

// Both modes are the same device.Doc.
var (
	_ device.Doc = (*client.Doc)(nil)
	_ device.Doc = (*direct.Doc)(nil)
)
