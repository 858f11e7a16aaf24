package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// probeResult is the outcome of one probe attempt.
type probeResult int

// Probe outcomes.
const (
	probeUnknown probeResult = iota
	probeSuccess
	probeFailure
)

// probeFunc runs one probe attempt against a container.
type probeFunc func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string, probe *corev1.Probe) (probeResult, string)

type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

func (k probeKind) String() string {
	return [...]string{"Liveness", "Readiness", "Startup"}[k]
}

func (k probeKind) of(c *corev1.Container) *corev1.Probe {
	switch k {
	case liveness:
		return c.LivenessProbe
	case readiness:
		return c.ReadinessProbe
	default:
		return c.StartupProbe
	}
}

type probeKey struct {
	uid       types.UID
	container string
	kind      probeKind
}

// probeVerdict is the current verdict of a probe for one container
// instance.
type probeVerdict struct {
	containerID string
	result      probeResult
}

// probeManager runs one worker goroutine per running container and probe
// kind; their verdicts are in its verdict store. A verdict change calls
// onChange with the pod's UID.
type probeManager struct {
	probe    probeFunc
	clock    clock.Clock
	onChange func(types.UID)
	// unhealthy records an Unhealthy event for a failed attempt.
	unhealthy func(pod *corev1.Pod, c *corev1.Container, kind probeKind, msg string)
	verdicts  *probeVerdicts
	// metrics count the attempts (nil: not counted).
	metrics *kubeletMetrics

	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

type probeWorker struct {
	containerID string
	cancel      context.CancelFunc
	pod         *corev1.Pod // the pod with its IP; guarded by the manager's mu
}

func newProbeManager(probe probeFunc, clk clock.Clock, onChange func(types.UID), unhealthy func(*corev1.Pod, *corev1.Container, probeKind, string)) *probeManager {
	return &probeManager{
		probe: probe, clock: clk, onChange: onChange, unhealthy: unhealthy,
		verdicts: newProbeVerdicts(), workers: map[probeKey]*probeWorker{},
	}
}

// probeVerdicts holds the current verdict of each probe of each running
// container instance.
type probeVerdicts struct {
	mu       sync.Mutex
	verdicts map[probeKey]probeVerdict
}

func newProbeVerdicts() *probeVerdicts {
	return &probeVerdicts{verdicts: map[probeKey]probeVerdict{}}
}

// of is the verdict of a probe for the instance id.
func (v *probeVerdicts) of(key probeKey, id string) (probeVerdict, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.verdicts[key]
	if !ok || got.containerID != id {
		return probeVerdict{}, false
	}
	return got, true
}

// start sets the initial verdict for a new instance's probe, unless the
// probe of that instance is done (startup passed, liveness failed: on
// hold until the next instance). It reports whether it set it.
func (v *probeVerdicts) start(key probeKey, id string, initial probeResult) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if got, ok := v.verdicts[key]; ok && got.containerID == id {
		return false
	}
	v.verdicts[key] = probeVerdict{containerID: id, result: initial}
	return true
}

// set records a probe's verdict for the instance id, unless a newer
// instance took over. It reports whether the verdict changed.
func (v *probeVerdicts) set(key probeKey, id string, r probeResult) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.verdicts[key]
	if ok && got.containerID != id {
		return false
	}
	v.verdicts[key] = probeVerdict{containerID: id, result: r}
	return !ok || got.result != r
}

// forget drops the verdicts of a pod's container ("" for all of the
// pod's).
func (v *probeVerdicts) forget(uid types.UID, container string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for key := range v.verdicts {
		if key.uid == uid && (container == "" || key.container == container) {
			delete(v.verdicts, key)
		}
	}
}

// results is the liveness and startup verdicts of a pod's instances.
func (v *probeVerdicts) results(uid types.UID) probeResults {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := probeResults{}
	for key, got := range v.verdicts {
		if key.uid != uid || key.kind == readiness {
			continue
		}
		r := out[got.containerID]
		if key.kind == liveness {
			r.liveness = got.result
		} else {
			r.startup = got.result
		}
		out[got.containerID] = r
	}
	return out
}

// ensure runs the probes of a running container instance (and stops the
// probes of its earlier instances). pod carries the pod IP probes use.
func (m *probeManager) ensure(ctx context.Context, pod *corev1.Pod, c *corev1.Container, ci *containerInfo) {
	for _, kind := range []probeKind{liveness, readiness, startup} {
		p := kind.of(c)
		if p == nil {
			continue
		}
		key := probeKey{pod.UID, c.Name, kind}
		m.mu.Lock()
		if w := m.workers[key]; w != nil {
			if w.containerID == ci.id {
				w.pod = pod
				m.mu.Unlock()
				continue
			}
			w.cancel()
			delete(m.workers, key)
		}
		initial := probeUnknown
		switch kind {
		case liveness:
			initial = probeSuccess
		case readiness:
			initial = probeFailure
		}
		if !m.verdicts.start(key, ci.id, initial) {
			// Done (startup passed, liveness failed): on hold until the
			// next instance.
			m.mu.Unlock()
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &probeWorker{containerID: ci.id, cancel: cancel, pod: pod}
		m.workers[key] = w
		m.mu.Unlock()
		go m.work(wctx, key, w, c.DeepCopy(), p.DeepCopy(), ci.startedAt)
	}
}

// stop ends the probes of a pod's container ("" for all of the pod's) and
// forgets their verdicts.
func (m *probeManager) stop(uid types.UID, container string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.uid == uid && (container == "" || key.container == container) {
			w.cancel()
			delete(m.workers, key)
			m.metrics.forgetProbes(key.kind, w.pod, key.container)
		}
	}
	m.verdicts.forget(uid, container)
}

// results is the liveness and startup verdicts of a pod's instances.
func (m *probeManager) results(uid types.UID) probeResults { return m.verdicts.results(uid) }

func (m *probeManager) verdict(uid types.UID, c *corev1.Container, kind probeKind, id string) (probeVerdict, bool) {
	return m.verdicts.of(probeKey{uid, c.Name, kind}, id)
}

// started: the instance passed its startup probe, or has none.
func (m *probeManager) started(uid types.UID, c *corev1.Container, id string) bool {
	if c.StartupProbe == nil {
		return true
	}
	v, ok := m.verdict(uid, c, startup, id)
	return ok && v.result == probeSuccess
}

// ready: the instance passed its readiness probe, or has none.
func (m *probeManager) ready(uid types.UID, c *corev1.Container, id string) bool {
	if c.ReadinessProbe == nil {
		return true
	}
	v, ok := m.verdict(uid, c, readiness, id)
	return ok && v.result == probeSuccess
}

func (m *probeManager) set(key probeKey, id string, r probeResult) {
	if m.verdicts.set(key, id, r) && m.onChange != nil {
		m.onChange(key.uid)
	}
}

func (m *probeManager) work(ctx context.Context, key probeKey, w *probeWorker, c *corev1.Container, p *corev1.Probe, startedAt time.Time) {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	successNeeded := int(max(p.SuccessThreshold, 1))
	failuresNeeded := int(max(p.FailureThreshold, 1))
	if key.kind != readiness {
		successNeeded = 1
	}
	if d := startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second).Sub(m.clock.Now()); d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(d):
		}
	}
	successes, failures := 0, 0
	for {
		m.mu.Lock()
		pod := w.pod
		m.mu.Unlock()
		gated := key.kind != startup && c.StartupProbe != nil && !m.started(key.uid, c, w.containerID)
		if !gated {
			pctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
			res, msg := m.probe(pctx, pod, c, w.containerID, p)
			cancel()
			if ctx.Err() != nil {
				return
			}
			m.metrics.probed(key.kind, res, pod, c.Name)
			switch res {
			case probeSuccess:
				successes, failures = successes+1, 0
			case probeFailure:
				successes, failures = 0, failures+1
				if m.unhealthy != nil {
					m.unhealthy(pod, c, key.kind, msg)
				}
			}
			switch {
			case failures >= failuresNeeded:
				m.set(key, w.containerID, probeFailure)
				if key.kind != readiness {
					// The container is killed; nothing to probe until the
					// next instance.
					return
				}
				failures = 0
			case res == probeSuccess && successes >= successNeeded:
				m.set(key, w.containerID, probeSuccess)
				if key.kind == startup {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(period):
		}
	}
}

// probeEventMessage is the Unhealthy event's text.
func probeEventMessage(kind probeKind, msg string) string {
	return fmt.Sprintf("%s probe failed: %s", kind, msg)
}
