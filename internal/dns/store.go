package dns

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Index names of the informer caches the store reads.
const (
	indexClusterIP = "clusterIP"
	indexService   = "service"
	indexAddress   = "address"
)

// ServiceIndexers are the indexers the Services cache of an IndexerStore
// needs beside the namespace index client-go's informers have: by ClusterIP.
func ServiceIndexers() cache.Indexers {
	return cache.Indexers{
		indexClusterIP: func(obj any) ([]string, error) {
			svc, ok := obj.(*corev1.Service)
			if !ok {
				return nil, nil
			}
			var out []string
			for _, a := range clusterIPs(svc) {
				out = append(out, a.String())
			}
			return out, nil
		},
	}
}

// EndpointSliceIndexers are the indexers the EndpointSlices cache of an
// IndexerStore needs: by Service (namespace/name) and by endpoint address.
func EndpointSliceIndexers() cache.Indexers {
	return cache.Indexers{
		indexService: func(obj any) ([]string, error) {
			sl, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok {
				return nil, nil
			}
			name, ok := sl.Labels[discoveryv1.LabelServiceName]
			if !ok {
				return nil, nil
			}
			return []string{sl.Namespace + "/" + name}, nil
		},
		indexAddress: func(obj any) ([]string, error) {
			sl, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok || sl.AddressType == discoveryv1.AddressTypeFQDN {
				return nil, nil
			}
			var out []string
			for _, ep := range sl.Endpoints {
				out = append(out, ep.Addresses...)
			}
			return out, nil
		},
	}
}

// IndexerStore is a Store over informer caches built with ServiceIndexers
// and EndpointSliceIndexers.
type IndexerStore struct {
	ServiceCache, SliceCache cache.Indexer
}

// Service implements Store.
func (s IndexerStore) Service(namespace, name string) *corev1.Service {
	obj, ok, err := s.ServiceCache.GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	svc, _ := obj.(*corev1.Service)
	return svc
}

// HasServices implements Store.
func (s IndexerStore) HasServices(namespace string) bool {
	keys, err := s.ServiceCache.IndexKeys(cache.NamespaceIndex, namespace)
	return err == nil && len(keys) > 0
}

// EndpointSlices implements Store.
func (s IndexerStore) EndpointSlices(namespace, service string) []*discoveryv1.EndpointSlice {
	return slicesOf(s.SliceCache.ByIndex(indexService, namespace+"/"+service))
}

// ServicesByIP implements Store.
func (s IndexerStore) ServicesByIP(ip string) []*corev1.Service {
	objs, err := s.ServiceCache.ByIndex(indexClusterIP, ip)
	if err != nil {
		return nil
	}
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			out = append(out, svc)
		}
	}
	return out
}

// EndpointSlicesByIP implements Store.
func (s IndexerStore) EndpointSlicesByIP(ip string) []*discoveryv1.EndpointSlice {
	return slicesOf(s.SliceCache.ByIndex(indexAddress, ip))
}

func slicesOf(objs []any, err error) []*discoveryv1.EndpointSlice {
	if err != nil {
		return nil
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, sl)
		}
	}
	// In name order, so that answers list endpoints in a stable order.
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// NewIndexerStore returns a store over fresh caches holding objs (Services
// and EndpointSlices); for tests and tools that have objects, not informers.
func NewIndexerStore(objs ...any) (IndexerStore, error) {
	svcIndexers := ServiceIndexers()
	svcIndexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	s := IndexerStore{
		ServiceCache: cache.NewIndexer(cache.MetaNamespaceKeyFunc, svcIndexers),
		SliceCache:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, EndpointSliceIndexers()),
	}
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *corev1.Service:
			err = s.ServiceCache.Add(o)
		case *discoveryv1.EndpointSlice:
			err = s.SliceCache.Add(o)
		default:
			err = fmt.Errorf("store: unexpected %T", o)
		}
		if err != nil {
			return s, err
		}
	}
	return s, nil
}
