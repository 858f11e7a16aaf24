// Package store turns the description of one served kind (a Kind) into the
// REST storage the generic API server installs: an etcd-backed
// genericregistry.Store with a strategy that applies Kubernetes' common rules
// (status/spec split, generation, object metadata validation), plus the
// status and scale subresources and a Table convertor for kubectl's columns.
//
// Kind-specific behaviour (defaults, validation, columns) lives in the
// per-group registry packages; this package only holds what every kind shares.
package store
