package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff.dev/skiff/internal/agent/devices"
	"skiff.dev/skiff/internal/agent/drain"
	"skiff.dev/skiff/internal/agent/runtime"
)

// podManager runs the pods of the node: one worker per pod UID. Each of
// its concerns is one owned type with its own lock.
type podManager struct {
	cfg  *Config
	rt   runtime.Runtime
	deps *deps
	node *nodeAgent
	log  *slog.Logger

	// runtimeName prefixes container IDs in the pod status
	// ("containerd://…"); features say how the runtime runs containers.
	runtimeName string
	features    runtime.Features
	recorder    record.EventRecorder
	lister      corelisters.PodLister
	services    corelisters.ServiceLister
	svcSynced   cache.InformerSynced
	backOff     *backOff
	probes      *probeManager
	devices     *devices.Manager

	workers    *podWorkers
	cache      *runtimeCache
	waiting    *waitingReasons
	admissions *admissions
	notes      *instanceNotes
	// drain holds deleted pods until no service proxy routes to them
	// (nil: Config.DisableDrainWait); drainStarts is when each began.
	drain       drainDecider
	drainStarts *drainStarts
	// metrics are the process's kubelet metrics; starts feeds their pod
	// start duration.
	metrics *kubeletMetrics
	starts  *podStarts
}

func newPodManager(cfg *Config, rt runtime.Runtime, d *deps, n *nodeAgent, log *slog.Logger) *podManager {
	m := &podManager{
		cfg: cfg, rt: rt, deps: d, node: n, log: log,
		backOff: newBackOff(cfg.Clock, cfg.BackOffBase, cfg.BackOffMax),
		workers: newPodWorkers(),
		cache:   newRuntimeCache(),
		waiting: newWaitingReasons(),
		notes:   newInstanceNotes(),

		drainStarts: newDrainStarts(),
		metrics:     processMetrics(),
		starts:      newPodStarts(),
	}
	m.admissions = newAdmissions(m.releaseDevices)
	m.probes = newProbeManager(d.probe, cfg.Clock, m.workers.kick, m.unhealthy)
	m.probes.metrics = m.metrics
	m.devices = newDeviceManager(cfg, log)
	return m
}

// newDeviceManager manages the node's GPUs (the simulated ones with
// FakeGPUs), checkpointed under <DataDir>/kubelet. An unreadable
// checkpoint is set aside: running pods then get devices anew.
func newDeviceManager(cfg *Config, log *slog.Logger) *devices.Manager {
	devs := devices.Detect(devDir)
	if cfg.FakeGPUs > 0 {
		devs = devices.Fake(cfg.FakeGPUs)
	}
	checkpoint := filepath.Join(cfg.DataDir, "kubelet", "device-checkpoint.json")
	dm, err := devices.NewManager(checkpoint, devDir, devs)
	if err != nil {
		log.Warn("device checkpoint unreadable; starting afresh", "err", err)
		_ = os.Rename(checkpoint, checkpoint+".bad")
		dm, _ = devices.NewManager(checkpoint, devDir, devs)
	}
	return dm
}

// releaseDevices frees the GPUs of a pod that is done.
func (m *podManager) releaseDevices(uid types.UID) {
	if err := m.devices.Release(uid); err != nil {
		m.log.Warn("releasing devices", "uid", uid, "err", err)
	}
}

// sweepDevices frees the GPUs of pods that went, or finished, while the
// agent was down.
func (m *podManager) sweepDevices() {
	pods, err := m.lister.List(labels.Everything())
	if err != nil {
		return
	}
	live := map[types.UID]bool{}
	for _, p := range pods {
		if !isTerminal(p.Status.Phase) {
			live[p.UID] = true
		}
	}
	if err := m.devices.Retain(func(uid types.UID) bool { return live[uid] }); err != nil {
		m.log.Warn("releasing devices of pods that are gone", "err", err)
	}
}

// run starts the informer, the relister and the workers, until ctx ends.
func (m *podManager) run(ctx context.Context) error {
	v, err := m.rt.Version(ctx, "v1")
	if err != nil {
		return fmt.Errorf("runtime version: %w", err)
	}
	m.runtimeName = v.RuntimeName
	m.features = runtime.FeaturesOf(m.rt)

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.cfg.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	m.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: m.cfg.NodeName})

	factory := informers.NewSharedInformerFactoryWithOptions(m.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", m.cfg.NodeName).String()
		}))
	// Services come from a second factory: the node filter is for pods.
	svcFactory := informers.NewSharedInformerFactory(m.cfg.Client, 0)
	inf := factory.Core().V1().Pods()
	m.lister = inf.Lister()
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { m.podEvent(ctx, obj) },
		UpdateFunc: func(_, obj any) { m.podEvent(ctx, obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			m.podEvent(ctx, obj)
		},
	})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if !m.cfg.DisableDrainWait && m.drain == nil {
		w := drain.NewWatcher(m.cfg.Client)
		w.Start(ctx)
		m.drain = w
	}
	svc := svcFactory.Core().V1().Services()
	m.services, m.svcSynced = svc.Lister(), svc.Informer().HasSynced
	factory.Start(ctx.Done())
	svcFactory.Start(ctx.Done())
	defer factory.Shutdown()
	defer svcFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil
	}
	m.sweepVolumes(ctx)
	m.sweepDevices()
	m.relistLoop(ctx)
	m.workers.wait()
	return nil
}

func (m *podManager) podEvent(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	m.ensureWorker(ctx, pod.UID, pod.Namespace, pod.Name)
}

// ensureWorker starts the pod's worker if needed and wakes it.
func (m *podManager) ensureWorker(ctx context.Context, uid types.UID, namespace, name string) {
	m.starts.seen(uid, m.cfg.Clock.Now())
	m.workers.ensure(ctx, uid, namespace, name, m.work)
}

// work syncs its pod on every wake-up, at the time the sync asks to look
// again and every ResyncPeriod, until the pod is gone and cleaned up.
func (m *podManager) work(ctx context.Context, w *podWorker) {
	log := m.log.With("pod", w.namespace+"/"+w.name, "uid", w.uid)
	timer := m.cfg.Clock.NewTimer(m.cfg.ResyncPeriod)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-timer.C():
		}
		after, done, err := m.syncPod(ctx, w)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn("pod sync failed", "err", err)
			after = min(after, time.Second)
		}
		if done {
			m.waiting.forget(w.uid)
			m.admissions.forget(w.uid)
			m.drainStarts.forget(w.uid)
			m.starts.forget(w.uid)
			m.cache.invalidate(w.uid)
			// A new event may have come for the UID meanwhile; it only
			// matters if the pod is back, which the informer will say.
			m.workers.remove(w.uid)
			log.Debug("pod worker done")
			return
		}
		if after <= 0 || after > m.cfg.ResyncPeriod {
			after = m.cfg.ResyncPeriod
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(after)
	}
}

// relistLoop compares the runtime's containers and sandboxes every
// RelistPeriod. For the pods that changed it caches their new runtime
// state and wakes their workers (starting workers for pods the kubelet
// does not know, to clean them up).
func (m *podManager) relistLoop(ctx context.Context) {
	var prev *relisted
	ticker := m.cfg.Clock.NewTicker(m.cfg.RelistPeriod)
	defer ticker.Stop()
	for {
		cur, err := m.relist(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("runtime relist failed", "err", err)
		} else {
			m.metrics.setRunning(runningCounts(cur))
			changed, gone := cur.changedSince(prev)
			for uid, o := range changed {
				m.cacheState(ctx, cur, uid)
				m.ensureWorker(ctx, o.uid, o.namespace, o.name)
			}
			for uid := range gone {
				m.cacheState(ctx, cur, uid)
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

type owner struct {
	uid             types.UID
	namespace, name string
}

// relisted is what one relist found: each sandbox's and container's state
// and owner (by "s/ID" and "c/ID"), and the pods' sandboxes and
// containers. gen numbers the read for the runtime cache.
type relisted struct {
	gen        uint64
	states     map[string]string
	owners     map[string]owner
	sandboxes  map[types.UID][]*runtimeapi.PodSandbox
	containers map[types.UID][]*runtimeapi.Container
}

func (m *podManager) relist(ctx context.Context) (*relisted, error) {
	gen := m.cache.begin()
	m.cache.prune(gen)
	sbs, err := m.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, err
	}
	cs, err := m.rt.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	r := &relisted{
		gen: gen, states: map[string]string{}, owners: map[string]owner{},
		sandboxes: map[types.UID][]*runtimeapi.PodSandbox{}, containers: map[types.UID][]*runtimeapi.Container{},
	}
	own := func(labels map[string]string) (owner, bool) {
		uid := labels[labelPodUID]
		if uid == "" {
			return owner{}, false
		}
		return owner{types.UID(uid), labels[labelPodNamespace], labels[labelPodName]}, true
	}
	for _, sb := range sbs {
		if o, ok := own(sb.Labels); ok {
			r.states["s/"+sb.Id], r.owners["s/"+sb.Id] = sb.State.String(), o
			r.sandboxes[o.uid] = append(r.sandboxes[o.uid], sb)
		}
	}
	for _, c := range cs {
		if o, ok := own(c.Labels); ok {
			r.states["c/"+c.Id], r.owners["c/"+c.Id] = c.State.String(), o
			r.containers[o.uid] = append(r.containers[o.uid], c)
		}
	}
	return r, nil
}

// changedSince is the pods with a sandbox or container that is new or in
// another state than in prev, and those that only lost one.
func (r *relisted) changedSince(prev *relisted) (changed map[types.UID]owner, gone map[types.UID]bool) {
	changed, gone = map[types.UID]owner{}, map[types.UID]bool{}
	var before map[string]string
	if prev != nil {
		before = prev.states
	}
	for id, state := range r.states {
		if st, ok := before[id]; !ok || st != state {
			o := r.owners[id]
			changed[o.uid] = o
		}
	}
	for id := range before {
		if _, ok := r.states[id]; !ok {
			if uid := prev.owners[id].uid; changed[uid].uid == "" {
				gone[uid] = true
			}
		}
	}
	return changed, gone
}

// cacheState caches the runtime state of a pod that changed, from what
// the relist found. A pod with nothing left is dropped from the cache.
func (m *podManager) cacheState(ctx context.Context, r *relisted, uid types.UID) {
	sbs, cs := r.sandboxes[uid], r.containers[uid]
	if len(sbs) == 0 && len(cs) == 0 {
		m.cache.invalidate(uid)
		return
	}
	st, err := buildState(ctx, m.rt, sbs, cs)
	if err != nil {
		// The pod's sync reads the runtime itself.
		return
	}
	m.cache.put(uid, st, r.gen)
}

// podState is a pod's runtime state: the cached one, or else read now
// (and cached).
func (m *podManager) podState(ctx context.Context, uid types.UID) (*podState, error) {
	if st, ok := m.cache.get(uid); ok {
		return st, nil
	}
	gen := m.cache.begin()
	st, err := inspect(ctx, m.rt, uid)
	if err != nil {
		return nil, err
	}
	m.cache.put(uid, st, gen)
	return st, nil
}

// runtimeFor is the runtime as the worker of pod uid changes it: each call
// that creates, starts, stops or removes one of the pod's sandboxes or
// containers marks the pod's cached state stale when it returns (a relist
// during the call may have cached what was there before it finished).
func (m *podManager) runtimeFor(uid types.UID) podRuntime {
	return podRuntime{Runtime: m.rt, invalidate: func() { m.cache.invalidate(uid) }}
}

// podRuntime is a runtime.Runtime whose calls that change a pod's
// sandboxes and containers call invalidate when they return.
type podRuntime struct {
	runtime.Runtime
	invalidate func()
}

func (r podRuntime) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	defer r.invalidate()
	return r.Runtime.RunPodSandbox(ctx, cfg, handler)
}

func (r podRuntime) StopPodSandbox(ctx context.Context, id string) error {
	defer r.invalidate()
	return r.Runtime.StopPodSandbox(ctx, id)
}

func (r podRuntime) RemovePodSandbox(ctx context.Context, id string) error {
	defer r.invalidate()
	return r.Runtime.RemovePodSandbox(ctx, id)
}

func (r podRuntime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, sandboxCfg *runtimeapi.PodSandboxConfig) (string, error) {
	defer r.invalidate()
	return r.Runtime.CreateContainer(ctx, sandboxID, cfg, sandboxCfg)
}

func (r podRuntime) StartContainer(ctx context.Context, id string) error {
	defer r.invalidate()
	return r.Runtime.StartContainer(ctx, id)
}

func (r podRuntime) StopContainer(ctx context.Context, id string, timeout int64) error {
	defer r.invalidate()
	return r.Runtime.StopContainer(ctx, id, timeout)
}

func (r podRuntime) UpdateContainerResources(ctx context.Context, id string, resources *runtimeapi.ContainerResources) error {
	defer r.invalidate()
	return r.Runtime.UpdateContainerResources(ctx, id, resources)
}

func (r podRuntime) RemoveContainer(ctx context.Context, id string) error {
	defer r.invalidate()
	return r.Runtime.RemoveContainer(ctx, id)
}

// podFor is the API's pod of a worker, nil when it is gone (or replaced
// by another pod of the name).
func (m *podManager) podFor(w *podWorker) *corev1.Pod {
	pod, err := m.lister.Pods(w.namespace).Get(w.name)
	if err != nil || pod.UID != w.uid {
		return nil
	}
	return pod
}

// event records an event about a pod, or one of its containers when
// fieldPath is set ("spec.containers{app}").
func (m *podManager) event(pod *corev1.Pod, fieldPath, eventType, reason, message string) {
	if m.recorder == nil {
		return
	}
	ref := &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: fieldPath,
	}
	m.recorder.Event(ref, eventType, reason, message)
}

// fieldPath is the event field path of a container of pod.
func fieldPath(pod *corev1.Pod, name string) string {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return fmt.Sprintf("spec.ephemeralContainers{%s}", name)
		}
	}
	return fmt.Sprintf("spec.containers{%s}", name)
}

func (m *podManager) unhealthy(pod *corev1.Pod, c *corev1.Container, kind probeKind, msg string) {
	m.event(pod, fieldPath(pod, c.Name), corev1.EventTypeWarning, "Unhealthy", probeEventMessage(kind, msg))
}

// setWaiting records (or, with an empty reason, clears) why a container
// is not running.
func (m *podManager) setWaiting(uid types.UID, name, reason, message string) {
	m.waiting.set(uid, name, reason, message)
}

// sweepVolumes starts a worker, which cleans up, for every pod directory
// left by a pod the API no longer has (the agent was down when it went).
func (m *podManager) sweepVolumes(ctx context.Context) {
	l, ok := m.deps.volumes.(interface{ PodUIDs() ([]types.UID, error) })
	if !ok {
		return
	}
	uids, err := l.PodUIDs()
	if err != nil {
		m.log.Warn("listing pod directories", "err", err)
		return
	}
	pods, err := m.lister.List(labels.Everything())
	if err != nil {
		return
	}
	known := map[types.UID]bool{}
	for _, p := range pods {
		known[p.UID] = true
	}
	for _, uid := range uids {
		if !known[uid] {
			m.ensureWorker(ctx, uid, "", "")
		}
	}
}

// servicesFor is the Services a pod's service link variables come from
// (those of its namespace and default/kubernetes), or nil before the
// service informer has synced (podenv then lists them itself).
func (m *podManager) servicesFor(pod *corev1.Pod) []corev1.Service {
	if m.services == nil || !m.svcSynced() {
		return nil
	}
	out := []corev1.Service{}
	l, err := m.services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	for _, s := range l {
		out = append(out, *s)
	}
	if pod.Namespace != metav1.NamespaceDefault {
		if k, err := m.services.Services(metav1.NamespaceDefault).Get("kubernetes"); err == nil {
			out = append(out, *k)
		}
	}
	return out
}
