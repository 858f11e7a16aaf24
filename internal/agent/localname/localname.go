// Package localname names what a node's agent creates on its host (the
// nftables tables of the service proxy and of the NetworkPolicy
// enforcement, the pod bridge, the vxlan device) after the node and the
// agent's data dir, so that several agents on one host (tests, demos, two
// clusters with a node of the same name) never share one.
package localname

import (
	"fmt"
	"hash/fnv"
)

// For is prefix followed by eight hex digits that stand for the node
// nodeName whose agent keeps its state in dataDir. With a prefix of up to
// seven characters it fits a Linux interface name (15 characters).
func For(prefix, nodeName, dataDir string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(nodeName + "\x00" + dataDir))
	return fmt.Sprintf("%s%08x", prefix, h.Sum32())
}
