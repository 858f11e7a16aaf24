// Package encryption keeps the encryption-at-rest configuration of `skiff
// server`: k8s.io/apiserver's EncryptionConfiguration
// (apiserver.config.k8s.io/v1), which the API server loads and reloads when
// the file changes. It generates the default configuration (Secrets under
// an aescbc key of its own), and carries out `skiff secrets-encrypt`:
// Status reads etcd to tell which key each object is stored under; Rotate
// adds a new key, waits until the running server has reloaded it, rewrites
// every object through the API so that it is stored under the new key, and
// retires the old key, with no restart.
package encryption
