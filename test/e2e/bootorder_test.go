package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// What a boot does before the uplink is up, read from its console: the
// uplink waits for the kernel to call it up, up to a second after the
// NIC's first carrier, so the NIC's driver goes first and the work that
// needs no network (the workloads' cgroup, the firewall) goes into that
// wait.

var (
	nicColdplug   = regexp.MustCompile(`(?m)nucbox: modules: coldplug: .*\bvirtio_net\b`)
	nicHotplug    = regexp.MustCompile(`(?m)nucbox: modules: hotplug: .*\bvirtio_net\b`)
	reserveLine   = regexp.MustCompile(`(?m)nucbox: reserve: `)
	networkReady  = regexp.MustCompile(`(?m)nucbox: network: ready in `)
	earlyFirewall = regexp.MustCompile(`(?m)nucbox: network: firewall inet nucbox: .*, applied beside the uplink's setup`)
)

// bootOrderProblems lists what a basic box's boot did out of that order.
func bootOrderProblems(console string) []string {
	var out []string
	if !nicColdplug.MatchString(console) || nicHotplug.MatchString(console) {
		out = append(out, "virtio_net was not loaded by the modules phase's NIC step (it came by hotplug, after the other virtio devices' drivers)")
	}
	r, n := reserveLine.FindStringIndex(console), networkReady.FindStringIndex(console)
	if r == nil || n == nil || r[0] > n[0] {
		out = append(out, "the workloads' cgroup (reserve) was not made before the network stage")
	}
	if !earlyFirewall.MatchString(console) {
		out = append(out, "the firewall was not applied beside the uplink's setup")
	}
	return out
}

// TestBootOrderProblems: the checks find each thing a boot did late, on
// console excerpts of a boot before and after the change. Pure Go.
func TestBootOrderProblems(t *testing.T) {
	before := strings.Join([]string{
		"[    3.050307] nucbox: modules: hotplug: virtio_rng for virtio:d00000004v00001AF4",
		"[    3.101431] nucbox: modules: hotplug: failover net_failover virtio_net for virtio:d00000001v00001AF4",
		"[    3.806800] nucbox: modules: coldplug: ahci i2c_i801 i2c_smbus libahci libata lpc_ich scsi_common scsi_mod virtio virtio_pci",
		"[    4.312065] nucbox: network: firewall inet nucbox: 8 rule(s), 1 change(s)",
		"[    4.312700] nucbox: network: ready in 400 ms (372 ms without the DHCP wait)",
		"[    4.347954] nucbox: reserve: workloads under nucbox.workloads: memory.max 702 MiB",
	}, "\n")
	after := strings.Join([]string{
		"[    3.000836] nucbox: modules: hotplug: virtio_rng for virtio:d00000004v00001AF4",
		"[    3.817123] nucbox: modules: coldplug: ahci failover i2c_i801 net_failover scsi_mod virtio virtio_net virtio_pci",
		"[    3.934561] nucbox: reserve: workloads under nucbox.workloads: memory.max 702 MiB",
		"[    4.241417] nucbox: network: firewall inet nucbox: 8 rule(s), 1 change(s), applied beside the uplink's setup",
		"[    4.242000] nucbox: network: ready in 300 ms (272 ms without the DHCP wait)",
	}, "\n")
	if p := bootOrderProblems(after); len(p) != 0 {
		t.Errorf("a boot in order: %q", p)
	}
	if p := bootOrderProblems(before); len(p) != 3 {
		t.Errorf("a boot out of order: found %d problem(s), want 3: %q", len(p), p)
	}
}
