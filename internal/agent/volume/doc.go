// Package volume makes the volumes of the pods on a node: it writes
// ConfigMap, Secret, downward API and projected volumes (service account
// tokens included) as files, makes emptyDir directories and memory-backed
// tmpfs mounts, checks hostPath volumes, and turns a container's
// volumeMounts into CRI mounts.
//
// A pod's volumes live under <podsDir>/<podUID>/volumes/<kind>/<name>, kind
// being the kubelet's plugin name (kubernetes.io~configmap, ...). File
// volumes are written the way the kubelet's atomic writer does it: the
// files go to a new timestamped directory, the ..data symlink is swapped to
// it with a rename, and the names a container sees are symlinks through
// ..data, so a reader sees the old set of files or the new one, never a
// mix. Setup is meant to be called at every pod sync: it rewrites a volume
// only when its content changed, so updated ConfigMaps and Secrets reach
// running pods.
package volume
