package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// checkLabIPv6 checks the IPv6 part of the Box Lab: ct10 on VLAN 10 got
// an address in the box's prefix from its router adverts and pings the
// box's IPv6 address there, whose DNS server answers (out holds ct10's
// LAB-CT10- lines); the box's
// bridge has its own SLAAC address from the lab network (QEMU's user
// network advertises fec0::/64) and status shows it. VLAN 10 has nat, so
// the box masquerades its IPv6 too (NAT66): its adverts name it default
// router and ct10 pings QEMU's fec0::2 through it. The box's DNS answers
// its own name with its IPv6 address there (AAAA) beside the IPv4 one. ct20's side, on
// VLAN 20, is checked with its other probes.
func checkLabIPv6(t *testing.T, m *harness.Machine, out string) {
	t.Helper()
	if !regexp.MustCompile(`LAB-CT10-V6ADDR inet6 fd00:10::[0-9a-f:]+/64`).MatchString(out) {
		t.Errorf("ct10 on VLAN 10 has no SLAAC address in fd00:10::/64 from the box's adverts: %q", out)
	}
	if !strings.Contains(out, "LAB-CT10-V6-PING-OK") {
		t.Errorf("ct10 on VLAN 10 does not ping the box at fd00:10::1: %q", out)
	}
	if !regexp.MustCompile(`LAB-CT10-V6DNS .*Name: ?vm10\.lab Address: ?10\.0\.10\.10\b`).MatchString(out) {
		t.Errorf("ct10 on VLAN 10 gets no answer for vm10.lab from the box's DNS at fd00:10::1: %q", out)
	}
	if !regexp.MustCompile(`LAB-CT10-BOXNAME .*Address: ?10\.0\.10\.1\b.*Address: ?fd00:10::1\b|LAB-CT10-BOXNAME .*Address: ?fd00:10::1\b.*Address: ?10\.0\.10\.1\b`).MatchString(out) {
		t.Errorf("ct10 does not get the box's name lab.lab as 10.0.10.1 and fd00:10::1 (A and AAAA) from its DNS: %q", out)
	}
	if !regexp.MustCompile(`LAB-CT10-V6ROUTE default via fe80::\S+ dev eth0`).MatchString(out) {
		t.Errorf("ct10 has no IPv6 default route from the box's adverts (router lifetime with NAT66): %q", out)
	}
	if !strings.Contains(out, "LAB-CT10-V6GW-OK") {
		t.Errorf("ct10 does not reach QEMU's fec0::2 over IPv6 through the box (NAT66): %q", out)
	}
	if v := shellValue(t, m, "cat /proc/sys/net/ipv6/conf/all/forwarding"); v != "1" {
		t.Errorf("IPv6 forwarding on the box = %q, want 1 with NAT66 on VLAN 10", v)
	}
	st, err := m.Shell(time.Minute, "n=0; until /init status | grep -q 'fec0:'; do n=$((n+1)); [ $n -ge 50 ] && break; sleep 1; done; /init status | grep -a 'br0'")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`br0\s.*fec0::[0-9a-f:]+/64`).MatchString(st) {
		t.Errorf("status shows no SLAAC address from the lab network on br0:\n%s", st)
	}
}

// checkIPv6OnlyVLAN checks VLAN 20, where the box has only an IPv6
// address: ct20 configured an address from the box's adverts there and the
// box's DNS, which the adverts name, answers its own name with that
// address alone (AAAA; no A record, as the VLAN has no IPv4 address of the
// box's); the box runs a DHCP server on VLAN 10 and none on VLAN 20.
func checkIPv6OnlyVLAN(t *testing.T, m *harness.Machine) {
	t.Helper()
	out := waitLog(t, m, time.Minute, guestState+"/containers/ct20.log", "LAB-CT20-V6ONLY-DNS", "LAB-CT20-V6ONLY")
	if !regexp.MustCompile(`LAB-CT20-V6ONLY inet6 fd00:20::[0-9a-f:]+/64`).MatchString(out) {
		t.Errorf("ct20 on the IPv6-only VLAN 20 has no SLAAC address in fd00:20::/64 from the box's adverts: %q", out)
	}
	if !regexp.MustCompile(`LAB-CT20-V6ONLY-DNS .*Name: ?lab\.lab Address: ?fd00:20::1\b`).MatchString(out) {
		t.Errorf("the box's DNS at fd00:20::1 does not answer lab.lab with fd00:20::1 on the IPv6-only VLAN: %q", out)
	}
	if regexp.MustCompile(`LAB-CT20-V6ONLY-DNS .*Address: ?10\.`).MatchString(out) {
		t.Errorf("the box answered an IPv4 address for itself on the IPv6-only VLAN 20: %q", out)
	}
	log := m.Output()
	if !strings.Contains(log, "dhcp on vlan10 (VLAN 10)") || strings.Contains(log, "dhcp on vlan20") {
		t.Errorf("DHCP servers: want one on vlan10 and none on the IPv6-only vlan20")
	}
}
