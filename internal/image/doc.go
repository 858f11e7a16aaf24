// Package image builds the single-layer container images skiff ships (the
// pause image and the model server) without a Docker engine or a registry,
// and reads the image names out of image tarballs.
//
// Build writes a docker-archive tarball (as `docker save` does) that
// containerd imports; Tags reads the names in a docker-archive or OCI
// tarball. Layers are reproducible: every entry has the same owner (0:0) and
// modification time (the Unix epoch), so the same inputs give the same image
// ID.
package image
