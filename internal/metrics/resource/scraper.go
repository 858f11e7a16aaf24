package resource

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/metrics/scrape"
	"skiff.dev/skiff/internal/registry/podsub"
)

// Path is where a node's kubelet server serves its resource metrics.
const Path = "/metrics/resource"

// maxConcurrent bounds the nodes scraped at once.
const maxConcurrent = 32

// NodeLister lists the nodes to scrape (client-go's NodeInterface has it).
type NodeLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error)
}

// Scraper scrapes every node's resource metrics into a Store.
type Scraper struct {
	Nodes NodeLister
	Store *Store
	// Options: the client (for nodes, with the API server's kubelet client
	// certificate), the timeout of one scrape, the logger and the clock.
	scrape.Options
}

// Run scrapes every resolution until ctx ends.
func (s *Scraper) Run(ctx context.Context, resolution time.Duration) {
	scrape.Every(ctx, resolution, s.Scrape)
}

// Scrape scrapes every node once, concurrently. A node that cannot be
// scraped is left out of the store, with a log line.
func (s *Scraper) Scrape(ctx context.Context) {
	nodes, err := s.Nodes.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("resource metrics: listing nodes", "err", err)
		}
		return
	}
	s.Store.Retain(scrape.Each(nodes.Items, maxConcurrent, func(node corev1.Node) (string, bool) {
		b, err := s.scrapeNode(ctx, &node)
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn("resource metrics: node left out", "node", node.Name, "err", err)
			}
			return "", false
		}
		s.Store.Update(node.Name, b)
		return node.Name, true
	}))
}

func (s *Scraper) scrapeNode(ctx context.Context, node *corev1.Node) (Batch, error) {
	host, err := podsub.NodeKubeletHost(node)
	if err != nil {
		return Batch{}, err
	}
	b, err := scrape.Get(ctx, s.Options, "https://"+host+Path, Parse)
	if err != nil {
		return Batch{}, fmt.Errorf("node %s: %w", node.Name, err)
	}
	return b, nil
}
