package agent

import (
	"fmt"
	"slices"
	"strings"
)

// RuntimeKind names what runs a node's pods.
type RuntimeKind string

// The runtime kinds, as --runtime takes them.
const (
	// RuntimeAuto is cri when a CRI socket is given or containerd is
	// installed, else process.
	RuntimeAuto RuntimeKind = "auto"
	// RuntimeCRI runs pods in containerd over the CRI.
	RuntimeCRI RuntimeKind = "cri"
	// RuntimeProcess runs pods' containers as host processes.
	RuntimeProcess RuntimeKind = "process"
	// RuntimeFake simulates the node: its pods run no processes.
	RuntimeFake RuntimeKind = "fake"
)

// RuntimeKinds lists every kind, in the order help texts name them.
var RuntimeKinds = []RuntimeKind{RuntimeAuto, RuntimeCRI, RuntimeProcess, RuntimeFake}

// Validate fails for a kind not in RuntimeKinds.
func (k RuntimeKind) Validate() error {
	if slices.Contains(RuntimeKinds, k) {
		return nil
	}
	return fmt.Errorf("runtime %q: want %s", string(k), kindList())
}

// String implements pflag.Value.
func (k *RuntimeKind) String() string { return string(*k) }

// Set implements pflag.Value: it takes only a kind of RuntimeKinds.
func (k *RuntimeKind) Set(s string) error {
	if err := RuntimeKind(s).Validate(); err != nil {
		return err
	}
	*k = RuntimeKind(s)
	return nil
}

// Type implements pflag.Value.
func (k *RuntimeKind) Type() string { return "string" }

// kindList is "auto, cri, process or fake".
func kindList() string {
	names := make([]string, len(RuntimeKinds))
	for i, k := range RuntimeKinds {
		names[i] = string(k)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
