package volume

import (
	"context"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// tokenKey names one token projection of one pod.
type tokenKey struct {
	podUID     types.UID
	volume     string
	path       string
	audience   string
	expiration int64
}

type cachedToken struct {
	token   string
	ttl     time.Duration
	expires time.Time
}

// fresh reports whether the token is young enough to keep: as the kubelet,
// ask for a new one once 80% of its life has passed or it is a day old.
func (t cachedToken) fresh(now time.Time) bool {
	return now.Before(t.expires.Add(-t.ttl/5)) && now.Before(t.expires.Add(-t.ttl).Add(24*time.Hour))
}

// tokenFiles is the token file of a serviceAccountToken projection, asked
// of the TokenRequest API for the pod's service account and bound to the
// pod. Tokens are kept and renewed when old. A failed request is logged and
// gives the previous token while it is valid, else no file.
func (m *Manager) tokenFiles(ctx context.Context, pod *corev1.Pod, volume string, p *corev1.ServiceAccountTokenProjection, mode os.FileMode) map[string]file {
	expiration := int64(3600)
	if p.ExpirationSeconds != nil {
		expiration = *p.ExpirationSeconds
	}
	key := tokenKey{podUID: pod.UID, volume: volume, path: p.Path, audience: p.Audience, expiration: expiration}
	now := m.Now()
	m.mu.Lock()
	cached, ok := m.tokens[key]
	m.mu.Unlock()
	if ok && cached.fresh(now) {
		return map[string]file{p.Path: {data: []byte(cached.token), mode: mode}}
	}

	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expiration,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	resp, err := m.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err == nil && resp.Status.Token == "" {
		err = errEmptyToken
	}
	if err != nil {
		m.log.Warn("service account token request failed", "pod", pod.Namespace+"/"+pod.Name, "serviceAccount", sa, "volume", volume, "err", err)
		if ok && now.Before(cached.expires) {
			return map[string]file{p.Path: {data: []byte(cached.token), mode: mode}}
		}
		return nil
	}
	ttl := time.Duration(expiration) * time.Second
	if resp.Spec.ExpirationSeconds != nil {
		ttl = time.Duration(*resp.Spec.ExpirationSeconds) * time.Second
	}
	expires := resp.Status.ExpirationTimestamp.Time
	if expires.IsZero() {
		expires = now.Add(ttl)
	}
	m.mu.Lock()
	m.tokens[key] = cachedToken{token: resp.Status.Token, ttl: ttl, expires: expires}
	m.mu.Unlock()
	return map[string]file{p.Path: {data: []byte(resp.Status.Token), mode: mode}}
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

const errEmptyToken = tokenError("the TokenRequest API returned an empty token")
