// Package plugins holds the scheduler's filter and score plugins, one per
// file with its table test beside it, and Default, the profile that lists
// them in kube-scheduler's order with kube-scheduler's weights. Each plugin
// does what kube-scheduler's plugin of the same name does, and words its
// reasons the same, so that FailedScheduling messages read alike;
// OwnerSpread stands in for the default topology spreading.
//
// How to add a plugin is in package scheduler's documentation.
package plugins
