package custom

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/internal/metrics/scrape"
	"skiff.dev/skiff/internal/wellknown"
)

// maxConcurrent bounds the pods scraped at once.
const maxConcurrent = 64

// Target is where a pod's metrics are scraped.
type Target struct {
	Pod types.NamespacedName
	URL string
}

// TargetOf returns where the pod asks to be scraped. ok is false when it
// does not ask (no prometheus.io/scrape: "true"), or is not running with an
// IP; err says why an asking pod cannot be scraped.
func TargetOf(pod *corev1.Pod) (t Target, ok bool, err error) {
	if pod.Annotations[wellknown.PrometheusScrapeAnnotation] != "true" ||
		pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return Target{}, false, nil
	}
	port := pod.Annotations[wellknown.PrometheusPortAnnotation]
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	if n, perr := strconv.Atoi(port); perr != nil || n <= 0 || n > 65535 {
		return Target{}, true, fmt.Errorf("pod %s/%s: annotation %s: %q is not a port, and no container declares one",
			pod.Namespace, pod.Name, wellknown.PrometheusPortAnnotation, port)
	}
	scheme := pod.Annotations[wellknown.PrometheusSchemeAnnotation]
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return Target{}, true, fmt.Errorf("pod %s/%s: annotation %s: %q is neither http nor https",
			pod.Namespace, pod.Name, wellknown.PrometheusSchemeAnnotation, scheme)
	}
	path := pod.Annotations[wellknown.PrometheusPathAnnotation]
	if path == "" {
		path = wellknown.DefaultPrometheusPath
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(pod.Status.PodIP, port), Path: path}
	return Target{Pod: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, URL: u.String()}, true, nil
}

// PodLister lists the pods (client-go's PodInterface of all namespaces has
// it).
type PodLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
}

// Scraper scrapes the pods that ask for it into a Store.
type Scraper struct {
	Pods  PodLister
	Store *Store
	// Options: the client that reaches the pods, the timeout of one scrape,
	// the logger and the clock.
	scrape.Options
}

// Run scrapes every resolution until ctx ends.
func (s *Scraper) Run(ctx context.Context, resolution time.Duration) {
	scrape.Every(ctx, resolution, s.Scrape)
}

// Scrape scrapes every pod that asks for it once, concurrently. A pod that
// cannot be scraped is left out, with a log line.
func (s *Scraper) Scrape(ctx context.Context) {
	pods, err := s.Pods.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("custom metrics: listing pods", "err", err)
		}
		return
	}
	var targets []Target
	for i := range pods.Items {
		target, ok, err := TargetOf(&pods.Items[i])
		if err != nil {
			s.Log.Warn("custom metrics: pod left out", "err", err)
		}
		if ok && err == nil {
			targets = append(targets, target)
		}
	}
	s.Store.Retain(scrape.Each(targets, maxConcurrent, func(target Target) (types.NamespacedName, bool) {
		samples, err := s.scrape(ctx, target)
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("custom metrics: pod left out", "pod", target.Pod.String(), "err", err)
			}
			return types.NamespacedName{}, false
		}
		s.Store.Update(target.Pod, samples)
		return target.Pod, true
	}))
}

func (s *Scraper) scrape(ctx context.Context, t Target) ([]Sample, error) {
	samples, err := scrape.Get(ctx, s.Options, t.URL, Parse)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", t.Pod, err)
	}
	return samples, nil
}
