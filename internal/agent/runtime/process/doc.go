// Package process is the agent's dependency-free container runtime: it runs
// each container's command and args as a process on the host, with no
// images and no container filesystem.
//
// What a pod gets:
//
//   - Network: unless the pod uses the host network, its own network
//     namespace (a bind mount under /run/netns, named skiff-<id>) with a veth
//     pair into a Linux bridge (Config.BridgeName, default "skiff0") that
//     holds the first address of the node's pod CIDR; the pod gets the next
//     free address, lo is up and the default route goes through the bridge.
//     Addresses are recorded under <StateDir>/ipam.json. IP forwarding is
//     turned on (as the CNI bridge plugin's gateway mode does) so traffic to
//     Services can come back into the bridge. Traffic from the pod CIDR to
//     anywhere outside the cluster CIDR (Config.ClusterCIDR, else the pod
//     CIDR) is masqueraded to the node's address (one nat
//     POSTROUTING rule commented "skiff process runtime <bridge>", as the CNI
//     bridge plugin's ipMasq; removed by Close; without iptables pods reach
//     only the node and other pods, and this is logged). When the host does
//     not permit namespaces or veths (or no pod CIDR is given) pods share the
//     host network and report the node's address; this is logged once.
//   - Cgroups: the pod cgroup at PodSandboxConfig.Linux.CgroupParent and one
//     per container below it, in the cgroup v1 controllers memory, cpu,
//     cpuacct and pids (or the same relative path in a cgroup v2 hierarchy),
//     with the memory limit, CFS quota and shares of the container's
//     resources (ListContainerStats reads their usage back). A
//     container's process is born in its cgroup (v1: the starting thread
//     joins it just for the fork; v2: clone into the cgroup), so its children
//     stay there; an exec'd command is moved in right after it started.
//     A container is OOMKilled when the memory controller counted an OOM
//     kill while it ran. Cgroups are best effort: when they cannot be made,
//     this is logged once and containers run without limits.
//   - Files: its own mount namespace, made by RunPodSandbox and held open
//     by the runtime until RemovePodSandbox; every container and exec'd
//     command joins it. It is a copy of the host's mounts that receives the
//     host's later mounts (slave propagation) but sends none back, without
//     the host's bind mounts of namespaces (other pods' network namespaces
//     would otherwise live as long as this pod). Its / is
//     a tmpfs of the pod's own (mounted on <StateDir>/pods/<id>/root, then
//     pivot_root) holding a bind mount of each entry of the host's / (links
//     copied), so a container sees and writes the host's files as before,
//     while a new entry of / stays in the pod. When the kubelet gives a DNS
//     config, /etc/resolv.conf shows it (search, nameserver and options
//     lines, as container runtimes write it); otherwise the host's file. A
//     pod in its own network namespace gets an /etc/hosts with localhost
//     and its address and hostname, as the kubelet's managed hosts file; a
//     host-network pod sees the host's. Those files live in a layer over
//     /etc (below), never in the host's /etc.
//   - Mounts: a container with mounts (volumes) runs in a mount namespace
//     of its own, a child of the pod's, where each Mount.HostPath (as the
//     host sees it when the container starts, through open_tree) is mounted
//     at Mount.ContainerPath (read-only when asked); exec'd commands join
//     it. A missing target (a file or directory) is made without changing
//     the host's files: directly in the pod's / when its parent is /,
//     otherwise in a writable layer put over its nearest existing parent
//     directory in that namespace only — an overlayfs whose lower layer is
//     the directory and whose upper layer lives in a tmpfs, or, where
//     overlayfs fails (a file system it cannot stack on, too deep a stack),
//     a tmpfs holding a bind mount of each entry of the directory. Mounts
//     below the directory are bound again on top. A write to an existing
//     file of a layered directory stays in the layer (overlayfs copies the
//     file up) or reaches the host's file (the tmpfs technique binds it).
//     The technique used is logged once. Two pods, or two containers, mounting different sources
//     at one path each see their own; the host never has the path. When the
//     host does not permit mount namespaces (logged once), pods see the
//     host's files and mounts cannot be made.
//   - Hostname: a container in its own network namespace also gets its own
//     UTS namespace with the pod's hostname.
//   - Identity: a container's security context (security.go) decides its
//     user, primary and supplementary groups (the host's /etc/passwd and
//     /etc/group stand for an image's), its capability bounding set (the
//     default set of containerd, then add/drop; privileged keeps the
//     agent's) and no_new_privs; the starting thread sets the bounding set
//     and no_new_privs right before the fork, the child switches user, and
//     exec'd commands get the same. A root process keeps exactly its
//     bounding set across exec; another user keeps no capability. Not
//     acted on: readonlyRootfs, seccomp, AppArmor, SELinux, masked paths,
//     and the PID and IPC namespace options (pods share the host's).
//
// Processes are started from a goroutine locked to an OS thread that first
// joins the pod's namespaces and cgroups, so the child inherits them from
// its first instruction; that thread is then discarded (never the main
// thread). Each container is its own process group: StopContainer signals
// the group, and when the main process exits whatever is left of the group
// and the cgroup is killed, as when a container's init exits. Output is
// copied line by line into the container's log file in the CRI log format
// (lines over 16 KiB are split into partial entries).
// Exec, attach and port-forward are served by a k8s.io/cri-streaming server
// on 127.0.0.1 that the runtime starts.
//
// The runtime keeps its pods in memory only. Close (and New, for what a
// crashed agent left behind under the state directory) kills every process
// and removes the namespaces, veths, bridge, cgroups and pod directories it
// made, so after an agent restart the kubelet starts all pods again. A
// pod's mount namespace, with every layer and file in it, ends with its
// last process and the runtime's handle on it; nothing of it is on the
// host's file system.
package process
