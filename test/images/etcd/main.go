// Command etcd is the etcd server (go.etcd.io/etcd/server/v3's etcdmain, the
// release go.mod requires) for the conformance images: the aggregator test
// runs it beside sample-apiserver as /usr/local/bin/etcd.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
