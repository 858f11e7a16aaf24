package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	criclient "k8s.io/cri-client/pkg"
	utilexec "k8s.io/utils/exec"
)

// execGrace is how much longer than the probe's timeout the Prober waits
// for a runtime that does not enforce the timeout itself.
const execGrace = 2 * time.Second

func (p *Prober) probeExec(ctx context.Context, container *corev1.Container, containerID string, action *corev1.ExecAction, timeout time.Duration) (Result, string) {
	if p.Runtime == nil {
		return Unknown, "exec probes need a container runtime"
	}
	cmd := expandStatic(action.Command, container.Env)
	ctx, cancel := context.WithTimeout(ctx, timeout+execGrace)
	defer cancel()
	stdout, stderr, err := p.Runtime.ExecSync(ctx, containerID, cmd, timeout)
	output := append(append([]byte{}, stdout...), stderr...)
	if len(output) > maxOutput {
		output = output[:maxOutput]
	}
	var exitErr utilexec.ExitError
	switch {
	case err == nil:
		return Success, string(output)
	case errors.As(err, &exitErr):
		if exitErr.ExitStatus() == 0 {
			return Success, string(output)
		}
		return Failure, string(output)
	case errors.Is(err, criclient.ErrCommandTimedOut):
		return Failure, err.Error()
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		return Failure, fmt.Sprintf("command timed out: %q did not finish within %s", strings.Join(cmd, " "), timeout)
	}
	return Unknown, err.Error()
}

// expandStatic replaces $(NAME) in a command with the value of the
// container's env var NAME when that value is given literally (not from a
// ConfigMap, Secret or field); $$ stands for a literal $. Other references
// are left as they are.
func expandStatic(cmd []string, env []corev1.EnvVar) []string {
	values := map[string]string{}
	for _, e := range env {
		if e.ValueFrom == nil {
			values[e.Name] = e.Value
		}
	}
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		out[i] = expand(arg, values)
	}
	return out
}

func expand(s string, values map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := values[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
