// Package plugins holds the scheduler's filter and score plugins, one per
// file, and Default, the profile that lists them. Each plugin does what
// kube-scheduler's plugin of the same name does, with its reasons worded
// the same, so that FailedScheduling messages read alike; OwnerSpread
// stands in for the default topology spreading.
//
// To add a plugin, write a type in a file of its own that implements
// framework.FilterPlugin or framework.ScorePlugin (or both), with the
// optional PreFilter, PreScore and NormalizeScores where it needs them, a
// table test beside it, and add it to Default.
package plugins
