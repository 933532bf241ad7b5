// Package plan turns a validated config into the ordered list of things the
// box creates, and compares two configs.
//
// Build gives the steps in apply order: kernel modules, hostname, uplink
// selection, bridge, uplink takeover (enslaving the uplink and moving its
// address), box VLAN addresses, then per VM its disks, cloud-init seed,
// TAP ports and the QEMU guest, then per container its image, veth ports and
// the container, and last the management API. The same plan answers
// `nucbox plan` on a laptop and drives the appliance, so names and MACs come
// from the config package's derivation functions, never from here. Each
// detail says whether its value was written in the file or is a default.
//
// Diff compares the running config with a new one: which workloads are
// added, removed, changed (with the fields that changed) or unchanged, and
// what changed in the network and box settings. Live apply touches only what
// it reports.
//
// The package is pure computation: no system calls.
package plan
