// Package floor keeps a floor of memory, processes and descriptors for
// the box itself, whatever its workloads do: every VM and container runs
// under one parent cgroup whose memory.max and pids.max are the box's
// totals minus a reserve (Parent), and PID 1 makes itself the last
// process the OOM killer would pick, with room for descriptors and
// process ids (ProtectSelf). The reserve comes compiled from the config;
// floor adds no default of its own.
package floor
