package apiserver

import (
	"fmt"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/options"
)

// AuditConfig is the audit log, as kube-apiserver's --audit-policy-file
// and --audit-log-* flags: each request is recorded (JSON lines,
// audit.k8s.io/v1 Events) at the level the policy gives it. Without a
// policy file or a log path nothing is recorded.
type AuditConfig struct {
	// PolicyFile is an audit.k8s.io/v1 Policy.
	PolicyFile string
	// LogPath is the log file; "-" is standard output.
	LogPath string
	// MaxAge (days), MaxBackups and MaxSize (megabytes) bound the rotated
	// log files.
	MaxAge, MaxBackups, MaxSize int
}

// DefaultAudit is AuditConfig with k8s.io/apiserver's defaults for the
// log's rotation and nothing recorded.
func DefaultAudit() AuditConfig {
	o := options.NewAuditOptions().LogOptions
	return AuditConfig{MaxAge: o.MaxAge, MaxBackups: o.MaxBackups, MaxSize: o.MaxSize}
}

// applyAudit sets up the audit policy and the log backend of c.
func applyAudit(a AuditConfig, c *genericapiserver.Config) error {
	if a.PolicyFile == "" && a.LogPath == "" {
		return nil
	}
	o := options.NewAuditOptions()
	o.PolicyFile = a.PolicyFile
	o.LogOptions.Path = a.LogPath
	o.LogOptions.MaxAge, o.LogOptions.MaxBackups, o.LogOptions.MaxSize = a.MaxAge, a.MaxBackups, a.MaxSize
	if errs := o.Validate(); len(errs) > 0 {
		return fmt.Errorf("audit: %v", errs)
	}
	if err := o.ApplyTo(c); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
