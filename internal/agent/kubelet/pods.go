package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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

	"skiff.dev/skiff/internal/agent/devices"
	"skiff.dev/skiff/internal/agent/runtime"
)

// podManager runs the pods of the node: one worker per pod UID.
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

	mu       sync.Mutex
	workers  map[types.UID]*podWorker
	waiting  map[types.UID]map[string]waitingReason
	admitted map[types.UID]corev1.ResourceList
	rejected map[types.UID]*rejection
	termMsgs map[string]string // container ID → termination message
	// killedFor holds why the kubelet killed a container instance it is
	// to restart.
	killedFor map[string]killReason
	// finished holds the pods this kubelet made Succeeded or Failed (the
	// informer's copy may not say so yet).
	finished map[types.UID]bool
	wg       sync.WaitGroup
}

// killReason is why the kubelet killed a container it restarts.
type killReason int

const (
	// killedProbe: a liveness or startup probe failed; restarted under
	// any policy but Never.
	killedProbe killReason = iota + 1
	// killedSpec: its spec (image) changed; restarted under any policy.
	killedSpec
)

// podWorker syncs one pod; kick wakes it.
type podWorker struct {
	uid             types.UID
	namespace, name string
	kick            chan struct{}
}

func newPodManager(cfg *Config, rt runtime.Runtime, d *deps, n *nodeAgent, log *slog.Logger) *podManager {
	m := &podManager{
		cfg: cfg, rt: rt, deps: d, node: n, log: log,
		backOff:  newBackOff(cfg.Clock, cfg.BackOffBase, cfg.BackOffMax),
		workers:  map[types.UID]*podWorker{},
		waiting:  map[types.UID]map[string]waitingReason{},
		admitted: map[types.UID]corev1.ResourceList{},
		rejected: map[types.UID]*rejection{},
		termMsgs: map[string]string{},

		killedFor: map[string]killReason{},
		finished:  map[types.UID]bool{},
	}
	m.probes = newProbeManager(d.probe, cfg.Clock, m.kickUID, m.unhealthy)
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
	m.wg.Wait()
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
	m.mu.Lock()
	w := m.workers[uid]
	if w == nil {
		if ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		w = &podWorker{uid: uid, namespace: namespace, name: name, kick: make(chan struct{}, 1)}
		m.workers[uid] = w
		m.wg.Add(1)
		go m.work(ctx, w)
	}
	m.mu.Unlock()
	w.wake()
}

func (w *podWorker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// kickUID wakes the worker of a pod, if it has one.
func (m *podManager) kickUID(uid types.UID) {
	m.mu.Lock()
	w := m.workers[uid]
	m.mu.Unlock()
	if w != nil {
		w.wake()
	}
}

// work syncs its pod on every wake-up, at the time the sync asks to look
// again and every ResyncPeriod, until the pod is gone and cleaned up.
func (m *podManager) work(ctx context.Context, w *podWorker) {
	defer m.wg.Done()
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
			m.mu.Lock()
			// A new event may have come for the UID meanwhile; it only
			// matters if the pod is back, which the informer will say.
			delete(m.workers, w.uid)
			delete(m.waiting, w.uid)
			delete(m.admitted, w.uid)
			delete(m.rejected, w.uid)
			delete(m.finished, w.uid)
			m.mu.Unlock()
			m.releaseDevices(w.uid)
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
// RelistPeriod and wakes the workers of the pods that changed (starting
// workers for pods the kubelet does not know, to clean them up).
func (m *podManager) relistLoop(ctx context.Context) {
	prev := map[string]string{}
	ticker := m.cfg.Clock.NewTicker(m.cfg.RelistPeriod)
	defer ticker.Stop()
	for {
		cur, owners, err := m.relist(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("runtime relist failed", "err", err)
		} else {
			for id, state := range cur {
				if prev[id] != state {
					o := owners[id]
					m.ensureWorker(ctx, o.uid, o.namespace, o.name)
				}
			}
			for id := range prev {
				if _, ok := cur[id]; !ok {
					if o, ok := owners[id]; ok {
						m.kickUID(o.uid)
					}
				}
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

func (m *podManager) relist(ctx context.Context) (map[string]string, map[string]owner, error) {
	sbs, err := m.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	cs, err := m.rt.ListContainers(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	cur := map[string]string{}
	owners := map[string]owner{}
	own := func(labels map[string]string) (owner, bool) {
		uid := labels[labelPodUID]
		if uid == "" {
			return owner{}, false
		}
		return owner{types.UID(uid), labels[labelPodNamespace], labels[labelPodName]}, true
	}
	for _, sb := range sbs {
		if o, ok := own(sb.Labels); ok {
			cur["s/"+sb.Id], owners["s/"+sb.Id] = sb.State.String(), o
		}
	}
	for _, c := range cs {
		if o, ok := own(c.Labels); ok {
			cur["c/"+c.Id], owners["c/"+c.Id] = c.State.String(), o
		}
	}
	return cur, owners, nil
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
	return fmt.Sprintf("spec.containers{%s}", name)
}

func (m *podManager) unhealthy(pod *corev1.Pod, c *corev1.Container, kind probeKind, msg string) {
	m.event(pod, fieldPath(pod, c.Name), corev1.EventTypeWarning, "Unhealthy", probeEventMessage(kind, msg))
}

// setWaiting records (or, with an empty reason, clears) why a container
// is not running.
func (m *podManager) setWaiting(uid types.UID, name, reason, message string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reason == "" {
		delete(m.waiting[uid], name)
		return
	}
	if m.waiting[uid] == nil {
		m.waiting[uid] = map[string]waitingReason{}
	}
	m.waiting[uid][name] = waitingReason{reason, message}
}

func (m *podManager) waitingOf(uid types.UID) map[string]waitingReason {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]waitingReason{}
	for k, v := range m.waiting[uid] {
		out[k] = v
	}
	return out
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
