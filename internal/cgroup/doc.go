// Package cgroup makes the cgroup v2 groups the box runs its workloads
// in, by writing the kernel's cgroup files directly: a group and its
// ancestors, the memory and pids controllers enabled down to it, its
// memory.max and pids.max, and a directory handle to start a process
// right inside it; and a group's limit counts (Hits: memory.events,
// pids.events). What the groups are and how large is decided by its
// callers (internal/floor for the workloads' parent, vmm for a VM's QEMU);
// libcontainer makes the containers' own groups.
package cgroup
