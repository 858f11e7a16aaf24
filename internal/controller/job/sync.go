package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/internal/controller/podutil"
)

// The job controller's name in spec.managedBy; Jobs managed by anyone else
// are left alone.
const managedByJobController = "kubernetes.io/job-controller"

// Conditions' reasons and messages, as Kubernetes writes them.
const (
	msgBackoffLimitExceeded = "Job has reached the specified backoff limit"
	msgDeadlineExceeded     = "Job was active longer than specified deadline"
	msgCompletionsReached   = "Reached expected number of succeeded pods"
)

// syncCtx is what one sync learns about a Job and its pods.
type syncCtx struct {
	key        string
	job        *batchv1.Job
	pods       []*corev1.Pod
	active     []*corev1.Pod
	expectedRm sets.Set[string]
	uncounted  struct{ succeeded, failed sets.Set[string] }

	succeeded, failed, terminating, ready int32

	// Indexed Jobs: indexes counted in the status, and those plus the
	// indexes of pods that succeeded since.
	prevSucceededIndexes, succeededIndexes sets.Set[int]

	// finished is the condition the Job is heading for, nil while it runs.
	finished *batchv1.JobCondition
	backoff  backoffRecord
}

// sync brings one Job's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	shared, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		c.setBackoffRecord(key, backoffRecord{})
		c.forgetSuperseded(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.superseded(key, shared.ResourceVersion) {
		// The cache lags behind our own status write; its update event
		// brings the Job back.
		return nil
	}
	if m := shared.Spec.ManagedBy; m != nil && *m != managedByJobController {
		return nil
	}
	if isFinished(shared) {
		c.setBackoffRecord(key, backoffRecord{})
		return nil
	}
	if mode := shared.Spec.CompletionMode; mode != nil && *mode != batchv1.NonIndexedCompletion && *mode != batchv1.IndexedCompletion {
		c.recorder.Event(shared, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	job := shared.DeepCopy()
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	if err := c.sync1(ctx, key, job); err != nil {
		return fmt.Errorf("job %s: %w", key, err)
	}
	return nil
}

func (c *Controller) sync1(ctx context.Context, key string, job *batchv1.Job) error {
	now := c.clock.Now()
	// Read the expectations before the pods, so that a pod created in between
	// defers the sync rather than being missed.
	satisfied := c.expectations.Satisfied(key)
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	sc := &syncCtx{key: key, job: job, pods: pods, expectedRm: c.expectations.FinalizerRemovals(key)}
	sc.uncounted.succeeded = sets.New(uidStrings(job.Status.UncountedTerminatedPods.Succeeded)...)
	sc.uncounted.failed = sets.New(uidStrings(job.Status.UncountedTerminatedPods.Failed)...)
	for _, p := range pods {
		switch {
		case podutil.IsActive(p):
			sc.active = append(sc.active, p)
		case podutil.IsTerminating(p):
			sc.terminating++
		}
	}
	sc.ready = countReady(sc.active)
	active := int32(len(sc.active))

	newSucceeded, newFailed := sc.newlyFinished()
	sc.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(sc.uncounted.succeeded.Len())
	sc.failed = job.Status.Failed + int32(len(countableFailures(job, newFailed))) + int32(sc.uncounted.failed.Len())
	sc.backoff = c.backoffRecord(key).next(newSucceeded, newFailed)

	startTimeSet := false
	if job.Status.StartTime == nil && !isSuspended(job) {
		job.Status.StartTime = &metav1.Time{Time: now}
		startTimeSet = true
	}

	if cond := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); cond != nil && cond.Status == corev1.ConditionTrue {
		sc.finished = cond.DeepCopy()
	} else if cond := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); cond != nil && cond.Status == corev1.ConditionTrue {
		sc.finished = newCondition(batchv1.JobFailed, cond.Reason, cond.Message, now)
	} else if msg := podFailurePolicyFailJob(job, pods); msg != "" {
		sc.finished = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, msg, now)
	}
	if sc.finished == nil {
		switch {
		case sc.failed > ptr.Deref(job.Spec.BackoffLimit, 6) || pastBackoffLimitOnFailure(job, pods):
			sc.finished = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimitExceeded, now)
		case c.pastActiveDeadline(job):
			sc.finished = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadlineExceeded, now)
		case job.Spec.ActiveDeadlineSeconds != nil && !isSuspended(job) && job.Status.StartTime != nil:
			left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(job.Status.StartTime.Time)
			c.queue.AddAfter(key, left)
		}
	}

	if isIndexed(job) {
		completions := int(ptr.Deref(job.Spec.Completions, 0))
		sc.prevSucceededIndexes = parseIndexes(job.Status.CompletedIndexes, completions)
		sc.succeededIndexes = sc.prevSucceededIndexes.Clone()
		for _, p := range pods {
			if ix := completionIndex(p); p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) && ix != noIndex && ix < completions {
				sc.succeededIndexes.Insert(ix)
			}
		}
		sc.succeeded = int32(sc.succeededIndexes.Len())
		if sc.finished == nil {
			if msg, met := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, sc.succeededIndexes); met {
				sc.finished = newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, msg, now)
			}
		}
	}

	suspendChanged := false
	var manageErr error
	if sc.finished != nil {
		deletedReady, deleted, err := c.deleteActivePods(ctx, job, sc.active)
		if deleted != active || !satisfied {
			// Pods or finalizers may remain that the cache does not show yet.
			sc.finished = nil
		}
		active -= deleted
		sc.terminating += deleted
		sc.ready -= deletedReady
		manageErr = err
	} else {
		manageCalled := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, sc)
			manageCalled = true
		}
		var complete bool
		if job.Spec.Completions == nil {
			// Any success ends a work-queue Job once the others stopped.
			complete = sc.succeeded > 0 && active == 0
		} else {
			complete = sc.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			sc.finished = newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletionsReached, now)
		case manageCalled && isSuspended(job):
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
			}
		case manageCalled:
			var changed bool
			job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
			if changed {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts continuous activity: a
				// resumed Job starts afresh.
				job.Status.StartTime = &metav1.Time{Time: now}
			}
		}
	}

	old := job.Status
	needsUpdate := suspendChanged || active != old.Active || !ptr.Equal(&sc.ready, old.Ready) ||
		!ptr.Equal(&sc.terminating, old.Terminating) || startTimeSet
	job.Status.Active = active
	job.Status.Ready = new(sc.ready)
	job.Status.Terminating = new(sc.terminating)
	if err := c.trackStatus(ctx, sc, needsUpdate); err != nil {
		return fmt.Errorf("tracking status: %w", err)
	}
	return manageErr
}

// newlyFinished returns the pods that ended and are in neither the
// counters nor .status.uncountedTerminatedPods yet.
func (sc *syncCtx) newlyFinished() (succeeded, failed []*corev1.Pod) {
	completions := int(ptr.Deref(sc.job.Spec.Completions, 0))
	for _, p := range sc.pods {
		uid := string(p.UID)
		if !hasTrackingFinalizer(p) || sc.expectedRm.Has(uid) {
			continue
		}
		if isIndexed(sc.job) {
			if ix := completionIndex(p); ix == noIndex || ix >= completions {
				continue
			}
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !sc.uncounted.succeeded.Has(uid):
			succeeded = append(succeeded, p)
		case isPodFailed(p, sc.job) && !sc.uncounted.failed.Has(uid):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// manageJob creates or deletes pods so that the Job runs as many as it
// should. It returns the number of active pods afterwards.
func (c *Controller) manageJob(ctx context.Context, sc *syncCtx) (int32, error) {
	job := sc.job
	active := int32(len(sc.active))
	parallelism := ptr.Deref(job.Spec.Parallelism, 1)

	if isSuspended(job) {
		rm := activePodsForRemoval(job, sc.active, len(sc.active))
		c.expectations.Raise(sc.key, 0, len(rm))
		removedReady, removed, err := c.deleteJobPods(ctx, sc.key, job, rm)
		sc.terminating += removed
		sc.ready -= removedReady
		return active - removed, err
	}

	var wantActive int32
	if job.Spec.Completions == nil {
		// A work queue: once a pod succeeded, let the others finish.
		if sc.succeeded > 0 {
			wantActive = active
		} else {
			wantActive = parallelism
		}
	} else {
		wantActive = max(min(*job.Spec.Completions-sc.succeeded, parallelism), 0)
	}

	rm := activePodsForRemoval(job, sc.active, int(max(active-wantActive, 0)))
	if len(rm) > maxPodCreateDeletePerSync {
		rm = rm[:maxPodCreateDeletePerSync]
	}
	if len(rm) > 0 {
		// Deletions first; creations, if any are due as well, next sync.
		c.expectations.Raise(sc.key, 0, len(rm))
		removedReady, removed, err := c.deleteJobPods(ctx, sc.key, job, rm)
		sc.terminating += removed
		sc.ready -= removedReady
		return active - removed, err
	}

	var terminating int32
	if onlyReplaceFailedPods(job) {
		terminating = sc.terminating
	}
	diff := wantActive - terminating - active
	if diff <= 0 {
		return active, nil
	}
	if left := sc.backoff.remaining(c.clock.Now(), c.opts.PodFailureBackOff, c.opts.MaxPodFailureBackOff); left > 0 {
		c.queue.AddAfter(sc.key, left)
		return active, nil
	}
	diff = min(diff, maxPodCreateDeletePerSync)
	indexes := make([]int, diff)
	for i := range indexes {
		indexes[i] = noIndex
	}
	if isIndexed(job) {
		indexes = pendingIndexes(int(ptr.Deref(job.Spec.Completions, 0)), sc.succeededIndexes, sc.active, int(diff))
		diff = int32(len(indexes))
	}
	c.expectations.Raise(sc.key, int(diff), 0)

	// Create in batches of 1, 2, 4, ... so that a systematic failure (quota,
	// admission) costs a few requests rather than hundreds.
	var errs []error
	var mu sync.Mutex
	created := int32(0)
	for batch := int32(1); len(indexes) > 0; batch *= 2 {
		n := min(int(batch), len(indexes))
		var wg sync.WaitGroup
		failed := false
		for _, ix := range indexes[:n] {
			wg.Go(func() {
				err := c.createPod(ctx, job, ix)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					c.expectations.CreationObserved(sc.key)
					if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						errs = append(errs, err)
						failed = true
					}
					return
				}
				created++
			})
		}
		wg.Wait()
		indexes = indexes[n:]
		if failed {
			// The rest will not be created now: stop expecting them.
			for range indexes {
				c.expectations.CreationObserved(sc.key)
			}
			break
		}
	}
	return active + created, errors.Join(errs...)
}

func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, index int) error {
	pod := newPod(job, index)
	got, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return fmt.Errorf("creating pod: %w", err)
	}
	c.log.Debug("created pod", "job", keyOf(job), "pod", got.Name)
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
	return nil
}

// deleteJobPods removes the tracking finalizer, then deletes, so that the
// pods do not count as failures (excess pods, suspension). It returns how
// many ready pods and pods in all it deleted.
func (c *Controller) deleteJobPods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.deletePods(ctx, job, pods, func(p *corev1.Pod) error {
		if err := c.removeFinalizer(ctx, p); err != nil {
			c.expectations.DeletionObserved(key, podutil.Key(p))
			return err
		}
		if err := c.deletePod(ctx, job, p); err != nil {
			c.expectations.DeletionObserved(key, podutil.Key(p))
			return err
		}
		return nil
	})
}

// deleteActivePods deletes pods keeping their finalizers: the status
// tracking counts them (as failed) before it lets them go.
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.deletePods(ctx, job, pods, func(p *corev1.Pod) error { return c.deletePod(ctx, job, p) })
}

func (c *Controller) deletePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod, del func(*corev1.Pod) error) (int32, int32, error) {
	var mu sync.Mutex
	var errs []error
	var ready, deleted int32
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			err := del(p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
				return
			}
			deleted++
			if podutil.IsReady(p) {
				ready++
			}
		})
	}
	wg.Wait()
	return ready, deleted, errors.Join(errs...)
}

func (c *Controller) deletePod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
	return nil
}

// activePodsForRemoval picks at least n active pods to delete, least
// advanced first; an Indexed Job also loses duplicate and out-of-range
// indexes.
func activePodsForRemoval(job *batchv1.Job, active []*corev1.Pod, n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexed(job) {
		rm, left = duplicateIndexPods(active, int(ptr.Deref(job.Spec.Completions, 0)))
	} else {
		left = slices.Clone(active)
	}
	if len(rm) < n {
		slices.SortFunc(left, lessAdvanced)
		rm = append(rm, left[:min(n-len(rm), len(left))]...)
	}
	return rm
}

// trackStatus counts finished pods through .status.uncountedTerminatedPods
// so that none is counted twice or lost:
//  1. record newly finished pods in uncountedTerminatedPods (and the interim
//     FailureTarget / SuccessCriteriaMet condition), write the status;
//  2. remove their tracking finalizers;
//  3. move the pods whose finalizer is gone into the counters;
//  4. add Complete or Failed once nothing is uncounted or terminating.
func (c *Controller) trackStatus(ctx context.Context, sc *syncCtx, needsFlush bool) error {
	job := sc.job
	indexed := isIndexed(job)
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	withFinalizer := sets.New[string]()
	for _, p := range sc.pods {
		if hasTrackingFinalizer(p) && !sc.expectedRm.Has(string(p.UID)) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	if countUncounted(&job.Status, withFinalizer) {
		needsFlush = true
	}
	uncounted := job.Status.UncountedTerminatedPods
	var toRelease []*corev1.Pod
	var newIndexes []int
	full := false
	pods := slices.Clone(sc.pods)
	if indexed {
		slices.SortStableFunc(pods, func(a, b *corev1.Pod) int { return completionIndex(a) - completionIndex(b) })
	}
	for _, p := range pods {
		uid := string(p.UID)
		if !hasTrackingFinalizer(p) || sc.expectedRm.Has(uid) {
			continue
		}
		failed := isPodFailed(p, job)
		if !(job.DeletionTimestamp != nil || sc.finished != nil || p.Status.Phase == corev1.PodSucceeded || failed) {
			continue
		}
		toRelease = append(toRelease, p)
		ix := completionIndex(p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !sc.uncounted.failed.Has(uid):
			if indexed {
				// The index itself guards against counting twice.
				if ix != noIndex && ix < completions && !sc.prevSucceededIndexes.Has(ix) {
					newIndexes = append(newIndexes, ix)
					needsFlush = true
				}
			} else if !sc.uncounted.succeeded.Has(uid) {
				uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
				needsFlush = true
			}
		case failed || (sc.finished != nil && sc.finished.Type != batchv1.JobSuccessCriteriaMet):
			// Once the Job failed, every pod that did not succeed failed.
			if !sc.uncounted.failed.Has(uid) && (!indexed || (ix != noIndex && ix < completions)) && podFailureCounts(job, p) {
				uncounted.Failed = append(uncounted.Failed, p.UID)
				needsFlush = true
			}
		}
		if len(newIndexes)+len(uncounted.Succeeded)+len(uncounted.Failed) >= maxUncountedPods {
			// Keep the status small; the writes below requeue the Job.
			full = true
			break
		}
	}
	if indexed {
		sc.succeededIndexes = sc.prevSucceededIndexes.Clone().Insert(newIndexes...)
		s := formatIndexes(sc.succeededIndexes)
		if s != job.Status.CompletedIndexes {
			needsFlush = true
		}
		job.Status.CompletedIndexes = s
		job.Status.Succeeded = int32(sc.succeededIndexes.Len())
	}
	now := c.clock.Now()
	if f := sc.finished; f != nil && f.Type == batchv1.JobFailureTarget {
		job.Status.Conditions = append(job.Status.Conditions, *f)
		needsFlush = true
		sc.finished = newCondition(batchv1.JobFailed, f.Reason, f.Message, now)
	}
	if f := sc.finished; f != nil && f.Type == batchv1.JobSuccessCriteriaMet {
		if findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *f)
			needsFlush = true
		}
		sc.finished = newCondition(batchv1.JobComplete, f.Reason, f.Message, now)
	}

	// 1.
	if needsFlush {
		if err := c.updateStatus(ctx, sc); err != nil {
			return fmt.Errorf("adding uncounted pods to status: %w", err)
		}
		c.setBackoffRecord(sc.key, sc.backoff)
		needsFlush = false
	}
	// 2.
	var rmErr error
	if len(toRelease) > 0 {
		uids := make([]string, len(toRelease))
		for i, p := range toRelease {
			uids[i] = string(p.UID)
		}
		c.expectations.ExpectFinalizersRemoved(sc.key, uids)
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		for _, p := range toRelease {
			wg.Go(func() {
				err := c.removeFinalizer(ctx, p)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					c.expectations.FinalizerRemovalObserved(sc.key, string(p.UID))
					errs = append(errs, err)
					return
				}
				withFinalizer.Delete(string(p.UID))
			})
		}
		wg.Wait()
		rmErr = errors.Join(errs...)
	}
	// 3.
	if countUncounted(&sc.job.Status, withFinalizer) {
		needsFlush = true
	}
	if rmErr != nil {
		if needsFlush {
			if err := c.updateStatus(ctx, sc); err != nil {
				return fmt.Errorf("removing uncounted pods from status: %w", err)
			}
		}
		return rmErr
	}
	// 4.
	finished := !full && c.enactFinished(sc)
	if finished {
		needsFlush = true
	}
	if needsFlush {
		if err := c.updateStatus(ctx, sc); err != nil {
			return fmt.Errorf("removing uncounted pods from status: %w", err)
		}
		if finished {
			c.recordFinished(sc.job, sc.finished)
		}
	}
	return nil
}

// countUncounted moves the uncounted pods that no longer hold a finalizer
// into the counters; it reports whether anything moved.
func countUncounted(status *batchv1.JobStatus, withFinalizer sets.Set[string]) bool {
	u := status.UncountedTerminatedPods
	keep := func(uids []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.Has(string(uid)) {
				out = append(out, uid)
			}
		}
		return out
	}
	changed := false
	if k := keep(u.Succeeded); len(k) != len(u.Succeeded) {
		status.Succeeded += int32(len(u.Succeeded) - len(k))
		u.Succeeded = k
		changed = true
	}
	if k := keep(u.Failed); len(k) != len(u.Failed) {
		status.Failed += int32(len(u.Failed) - len(k))
		u.Failed = k
		changed = true
	}
	return changed
}

// enactFinished sets the terminal condition once every pod is counted and
// none is still terminating.
func (c *Controller) enactFinished(sc *syncCtx) bool {
	if sc.finished == nil {
		return false
	}
	job := sc.job
	if u := job.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if sc.terminating > 0 {
		return false
	}
	f := sc.finished
	job.Status.Conditions, _ = ensureCondition(job.Status.Conditions, f.Type, f.Status, f.Reason, f.Message, c.clock.Now())
	if f.Type == batchv1.JobComplete {
		job.Status.CompletionTime = &f.LastTransitionTime
	}
	return true
}

func (c *Controller) recordFinished(job *batchv1.Job, f *batchv1.JobCondition) {
	if f.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	c.recorder.Event(job, corev1.EventTypeWarning, f.Reason, f.Message)
}

func (c *Controller) updateStatus(ctx context.Context, sc *syncCtx) error {
	sent := sc.job.ResourceVersion
	got, err := c.client.BatchV1().Jobs(sc.job.Namespace).UpdateStatus(ctx, sc.job, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	if sent != "" && sent != got.ResourceVersion {
		c.supersede(sc.key, sent)
	}
	// Carry on with the stored object (its resourceVersion), keeping the
	// uncounted list that the rest of the sync edits.
	sc.job = got
	if sc.job.Status.UncountedTerminatedPods == nil {
		sc.job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	return nil
}

// claimPods returns the pods the Job controls, adopting orphans that match
// its selector (with the tracking finalizer).
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("parsing selector: %w", err)
	}
	all, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out, orphans []*corev1.Pod
	for _, p := range all {
		ref := metav1.GetControllerOf(p)
		switch {
		case ref != nil && ref.UID == job.UID:
			out = append(out, p)
		case ref == nil && p.DeletionTimestamp == nil && !selector.Empty() && selector.Matches(labels.Set(p.Labels)):
			orphans = append(orphans, p)
		}
	}
	if len(orphans) == 0 || job.DeletionTimestamp != nil {
		return out, nil
	}
	// Adopt only for a Job that still exists and is not being deleted.
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
		return out, nil
	}
	ref := metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))
	for _, p := range orphans {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"ownerReferences": []metav1.OwnerReference{*ref},
			"uid":             p.UID,
			"finalizers":      []string{batchv1.JobTrackingFinalizer},
		}})
		got, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("adopting pod %s: %w", p.Name, err)
		}
		out = append(out, got)
	}
	return out, nil
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure, failures are
// container restarts in running pods.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, s := range p.Status.InitContainerStatuses {
			n += s.RestartCount
		}
		for _, s := range p.Status.ContainerStatuses {
			n += s.RestartCount
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return n > 0
	}
	return n >= limit
}

func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || isSuspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

func isSuspended(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) }

// isFinished: the Job holds a true Complete or Failed condition.
func isFinished(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func newCondition(t batchv1.JobConditionType, reason, message string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{
		Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

func findCondition(list []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

// ensureCondition sets the condition of type t, adding it unless it would
// be added as False; it reports whether the list changed.
func ensureCondition(list []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) ([]batchv1.JobCondition, bool) {
	cond := newCondition(t, reason, message, now)
	cond.Status = status
	if c := findCondition(list, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == message {
			return list, false
		}
		*c = *cond
		return list, true
	}
	if status == corev1.ConditionFalse {
		return list, false
	}
	return append(list, *cond), true
}

func uidStrings(uids []types.UID) []string {
	out := make([]string, len(uids))
	for i, u := range uids {
		out[i] = string(u)
	}
	return out
}

// supersede records that this controller's status write replaced the
// Job's version rv. A resourceVersion is opaque: it is only ever compared
// for equality.
func (c *Controller) supersede(key, rv string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaced[key] == nil {
		c.replaced[key] = sets.New[string]()
	}
	c.replaced[key].Insert(rv)
}

// superseded reports whether rv is a version of the Job that this
// controller's own status writes replaced: the cache has not caught up. Any
// other version is the one last written or a later one (a write based on a
// version in between would have been refused with a 409 Conflict), so the
// record is dropped.
func (c *Controller) superseded(key, rv string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replaced[key].Has(rv) {
		return true
	}
	delete(c.replaced, key)
	return false
}

func (c *Controller) forgetSuperseded(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.replaced, key)
}
