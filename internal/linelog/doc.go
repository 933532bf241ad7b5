// Package linelog puts the structured logs of the packages PID 1 drives
// (netcfg, vswitch, vmm, containers, the workload pool) into PID 1's own
// log as one plain line per record: "network: message key=value ...",
// with the level only for warnings and errors. Debug records (every
// netlink step) are dropped: the console is for what a person needs to
// know.
package linelog
