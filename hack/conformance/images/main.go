// Command images writes the container images the Kubernetes conformance
// suite runs (the e2e.test of the k8s.io/kubernetes module that go.mod
// requires), each a single-layer docker-archive under --out that
// `skiff image load` imports, tagged with the exact names the suite asks
// for: k8s.io/kubernetes/test/utils/image with its default registries (or
// KUBE_TEST_REPO_LIST, as the suite reads it). Nothing is pulled: agnhost and
// nonewprivs are built from their Go source in the module, busybox is
// Debian's static busybox, pause is skiff's, and the images upstream builds
// from other software are small static Go substitutes (test/images).
// hack/conformance/IMAGES.md lists them.
//
//	go run ./hack/conformance/images --bin-dir build/conformance-images/bin \
//	    --busybox /bin/busybox --bash /bin/bash-static --kubernetes-dir "$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)" \
//	    --out build/conformance-images
//	go run ./hack/conformance/images --list    # the image names, one a line
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	var in inputs
	flag.StringVar(&in.BinDir, "bin-dir", "build/conformance-images/bin", "directory with the static binaries "+fmt.Sprint(binaries))
	flag.StringVar(&in.Busybox, "busybox", "/bin/busybox", "a statically linked busybox (Debian: busybox-static)")
	flag.StringVar(&in.Bash, "bash", "/bin/bash-static", "a statically linked bash (Debian: bash-static)")
	flag.StringVar(&in.KubernetesDir, "kubernetes-dir", "", "source of the k8s.io/kubernetes module (go list -m -f '{{.Dir}}' k8s.io/kubernetes)")
	out := flag.String("out", "build/conformance-images", "directory to write the image tarballs to")
	list := flag.Bool("list", false, "print the image names and exit")
	flag.Parse()
	if *list {
		printNames(os.Stdout)
		return
	}
	if err := run(in, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func printNames(w io.Writer) {
	for _, d := range definitions {
		for _, ref := range d.refs() {
			fmt.Fprintln(w, ref)
		}
	}
}
