package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"skiff.dev/skiff/internal/agent"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller/podgc"
	"skiff.dev/skiff/internal/server"
)

// serverConfig runs `skiff server args` with a run that only keeps the
// config the flags made.
func serverConfig(t *testing.T, args ...string) (server.Config, error) {
	t.Helper()
	var got server.Config
	cmd := newServerCommand(slog.New(slog.NewTextHandler(io.Discard, nil)), func(_ context.Context, cfg server.Config) error {
		got = cfg
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(context.Background())
	return got, err
}

// field is one value the flags gave and the one wanted.
type field struct {
	name      string
	got, want any
}

func expect(t *testing.T, fields []field) {
	t.Helper()
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: %v, want %v", f.name, f.got, f.want)
		}
	}
}

func TestServerFlags(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg, err := serverConfig(t)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, []field{
			{"bind address", cfg.BindAddress.String(), "0.0.0.0"},
			{"service CIDR", cfg.ServiceCIDR, netip.MustParsePrefix("10.43.0.0/16")},
			{"cluster CIDR", cfg.ControllerManager.NodeIPAM.ClusterCIDR, netip.MustParsePrefix("10.42.0.0/16")},
			{"node ports", [2]int{cfg.NodePortMin, cfg.NodePortMax}, [2]int{30000, 32767}},
			{"runtime", cfg.Node.Runtime, agent.RuntimeAuto},
			{"kubelet port", cfg.Node.KubeletPort, agent.DefaultKubeletPort},
			{"grace period", cfg.ControllerManager.NodeLifecycle.NodeMonitorGracePeriod, 40 * time.Second},
			{"pod GC threshold", cfg.ControllerManager.PodGC.TerminatedPodThreshold, podgc.DefaultTerminatedPodThreshold},
			{"HPA sync period", cfg.ControllerManager.PodAutoscaler.SyncPeriod, 15 * time.Second},
			{"HPA downscale stabilization", cfg.ControllerManager.PodAutoscaler.DownscaleStabilization, 5 * time.Minute},
			{"HPA tolerance", cfg.ControllerManager.PodAutoscaler.Tolerance, 0.1},
			{"HPA CPU initialization period", cfg.ControllerManager.PodAutoscaler.CPUInitializationPeriod, 5 * time.Minute},
			{"HPA initial readiness delay", cfg.ControllerManager.PodAutoscaler.InitialReadinessDelay, 30 * time.Second},
			{"hollow nodes", cfg.Hollow.Count, 0},
			{"cluster DNS", fmt.Sprint(cfg.Node.ClusterDNS), "[10.43.0.10]"},
			{"cluster domain", cfg.Node.ClusterDomain, "cluster.local"},
			{"cluster DNS port", cfg.DNS.Port, 53},
			{"DNS disabled", cfg.DNS.Disable, false},
		})
	})
	t.Run("cluster DNS default follows the service CIDR", func(t *testing.T) {
		cfg, err := serverConfig(t, "--service-cidr", "10.96.0.0/12")
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Node.ClusterDNS) != 0 {
			t.Errorf("cluster DNS %v, want none (the server takes the tenth address of the range)", cfg.Node.ClusterDNS)
		}
	})
	t.Run("given", func(t *testing.T) {
		cfg, err := serverConfig(t, "--bind-address", "127.0.0.1", "--service-cidr", "10.96.0.0/12", "--cluster-cidr", "10.244.0.0/16",
			"--service-node-port-range", "31000-31010", "--runtime", "fake", "--node-monitor-grace-period", "3s",
			"--terminated-pod-gc-threshold", "0", "--hollow-nodes", "4", "--node-name", "srv", "--kubelet-port", "20250",
			"--cluster-dns", "10.96.0.10,fd00::a", "--cluster-domain", "corp.internal", "--cluster-dns-port", "5353", "--disable-dns",
			"--horizontal-pod-autoscaler-sync-period", "2s", "--horizontal-pod-autoscaler-downscale-stabilization", "10s",
			"--horizontal-pod-autoscaler-tolerance", "0.05", "--horizontal-pod-autoscaler-cpu-initialization-period", "1m",
			"--horizontal-pod-autoscaler-initial-readiness-delay", "5s")
		if err != nil {
			t.Fatal(err)
		}
		expect(t, []field{
			{"bind address", cfg.BindAddress.String(), "127.0.0.1"},
			{"service CIDR", cfg.ServiceCIDR, netip.MustParsePrefix("10.96.0.0/12")},
			{"cluster CIDR", cfg.ControllerManager.NodeIPAM.ClusterCIDR, netip.MustParsePrefix("10.244.0.0/16")},
			{"node ports", [2]int{cfg.NodePortMin, cfg.NodePortMax}, [2]int{31000, 31010}},
			{"runtime", cfg.Node.Runtime, agent.RuntimeFake},
			{"node name", cfg.Node.NodeName, "srv"},
			{"kubelet port", cfg.Node.KubeletPort, 20250},
			{"grace period", cfg.ControllerManager.NodeLifecycle.NodeMonitorGracePeriod, 3 * time.Second},
			{"pod GC threshold", cfg.ControllerManager.PodGC.TerminatedPodThreshold, 0},
			{"HPA sync period", cfg.ControllerManager.PodAutoscaler.SyncPeriod, 2 * time.Second},
			{"HPA downscale stabilization", cfg.ControllerManager.PodAutoscaler.DownscaleStabilization, 10 * time.Second},
			{"HPA tolerance", cfg.ControllerManager.PodAutoscaler.Tolerance, 0.05},
			{"HPA CPU initialization period", cfg.ControllerManager.PodAutoscaler.CPUInitializationPeriod, time.Minute},
			{"HPA initial readiness delay", cfg.ControllerManager.PodAutoscaler.InitialReadinessDelay, 5 * time.Second},
			{"hollow nodes", cfg.Hollow.Count, 4},
			{"cluster DNS", fmt.Sprint(cfg.Node.ClusterDNS), "[10.96.0.10 fd00::a]"},
			{"cluster domain", cfg.Node.ClusterDomain, "corp.internal"},
			{"cluster DNS port", cfg.DNS.Port, 5353},
			{"DNS disabled", cfg.DNS.Disable, true},
		})
	})
	t.Run("security", func(t *testing.T) {
		cfg, err := serverConfig(t, "--etcd-endpoints", "https://10.0.0.1:2379,https://10.0.0.2:2379", "--etcd-cafile", "ca.crt",
			"--etcd-certfile", "c.crt", "--etcd-keyfile", "c.key", "--encryption-provider-config", "enc.yaml",
			"--audit-policy-file", "policy.yaml", "--audit-log-path", "-", "--audit-log-maxsize", "7")
		if err != nil {
			t.Fatal(err)
		}
		expect(t, []field{
			{"etcd endpoints", fmt.Sprint(cfg.Etcd.Endpoints), "[https://10.0.0.1:2379 https://10.0.0.2:2379]"},
			{"etcd CA", cfg.Etcd.CAFile, "ca.crt"},
			{"etcd certificate", cfg.Etcd.CertFile + " " + cfg.Etcd.KeyFile, "c.crt c.key"},
			{"encryption config", cfg.EncryptionProviderConfig, "enc.yaml"},
			{"audit policy", cfg.Audit.PolicyFile, "policy.yaml"},
			{"audit log", cfg.Audit.LogPath, "-"},
			{"audit log max size", cfg.Audit.MaxSize, 7},
			{"audit log max age (default)", cfg.Audit.MaxAge, apiserver.DefaultAudit().MaxAge},
		})
	})
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--runtime", "docker"}, "want auto, cri, process or fake"},
		{[]string{"--bind-address", "localhost"}, "not an IP address"},
		{[]string{"--service-cidr", "10.43.0.0"}, "--service-cidr"},
		{[]string{"--cluster-cidr", "x"}, "--cluster-cidr"},
		{[]string{"--service-node-port-range", "32767-30000"}, "want MIN-MAX"},
		{[]string{"--cluster-dns", "10.43.0.300"}, "not an IP address"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, err := serverConfig(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestAgentFlags(t *testing.T) {
	run := func(args ...string) (agent.Config, error) {
		var got agent.Config
		cmd := newAgentCommand(slog.New(slog.NewTextHandler(io.Discard, nil)), func(_ context.Context, cfg agent.Config) error {
			got = cfg
			return nil
		})
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		return got, cmd.ExecuteContext(context.Background())
	}
	cfg, err := run("--server", "https://s:6443", "--token", "t")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.ClusterDNS) != "[10.43.0.10]" || cfg.ClusterDomain != "cluster.local" {
		t.Errorf("cluster DNS %v, domain %q; want [10.43.0.10], cluster.local", cfg.ClusterDNS, cfg.ClusterDomain)
	}
	cfg, err = run("--server", "https://s:6443", "--token", "t", "--cluster-dns", "10.0.0.10", "--cluster-domain", "k8s.internal")
	if err != nil || fmt.Sprint(cfg.ClusterDNS) != "[10.0.0.10]" || cfg.ClusterDomain != "k8s.internal" {
		t.Errorf("given cluster DNS: %v, %q, %v", cfg.ClusterDNS, cfg.ClusterDomain, err)
	}
	cfg, err = run("--server", "https://s:6443", "--token", "t", "--runtime", "process",
		"--register-with-taints", "a=b:NoSchedule,c:NoExecute", "--register-with-taints", "d=e:PreferNoSchedule")
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.Taint{
		{Key: "a", Value: "b", Effect: corev1.TaintEffectNoSchedule},
		{Key: "c", Effect: corev1.TaintEffectNoExecute},
		{Key: "d", Value: "e", Effect: corev1.TaintEffectPreferNoSchedule},
	}
	if cfg.Runtime != agent.RuntimeProcess || len(cfg.Taints) != len(want) {
		t.Fatalf("runtime %q, taints %v; want process, %v", cfg.Runtime, cfg.Taints, want)
	}
	for i := range want {
		if cfg.Taints[i] != want[i] {
			t.Errorf("taint %d: %v, want %v", i, cfg.Taints[i], want[i])
		}
	}
	if _, err := run("--register-with-taints", "a=b:Sometimes"); err == nil || !strings.Contains(err.Error(), "KEY[=VALUE]:EFFECT") {
		t.Errorf("bad taint: error %v", err)
	}
	if _, err := run("--runtime", "vm"); err == nil || !strings.Contains(err.Error(), "want auto, cri, process or fake") {
		t.Errorf("bad runtime: error %v", err)
	}
}
