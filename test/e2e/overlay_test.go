package e2e

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// overlayBox is the config of one appliance of TestOverlaysAndBond. The
// segment between the boxes carries no VLANs: VLAN 10 crosses it in VXLAN
// 1010 and VLAN 20 in a gretap, with containers on each VLAN in one
// subnet, so that only the overlays keep VLAN 10 from VLAN 20. Box a's
// uplink is a bond of its two NICs and runs a third container on the lab
// network itself; box b plays the gateway.
func overlayBox(name string, host, peer int, iface, extra string) string {
	gateway := ""
	if host != 2 {
		gateway = ", gateway: 192.168.60.2"
	}
	return fmt.Sprintf(`hostname: %[1]s
uplink:
  interface: %[4]s
  ipv4: {address: 192.168.60.%[2]d/24%[7]s}
  probe: {disabled: true}
  lldp: off
overlays:
  - {vlan: 10, vxlan: {vni: 1010, remotes: [192.168.60.%[3]d]}}
  - {vlan: 20, gretap: {remote: 192.168.60.%[3]d}}
containers:
  - name: ct10
    image: oci-layout:images/busybox
    command: [sh, -c, "exec sleep 100000"]
    nics: [{vlan: 10, mac: "02:00:00:00:%02[2]d:10", ipv4: {address: 10.0.10.%[2]d/24}}]
    memory: 32MiB
  - name: ct20
    image: oci-layout:images/busybox
    command: [sh, -c, "exec sleep 100000"]
    nics: [{vlan: 20, mac: "02:00:00:00:%02[2]d:20", ipv4: {address: 10.0.10.%[5]d/24}}]
    memory: 32MiB
%[6]s`, name, host, peer, iface, host+2, extra, gateway)
}

// ctLAN is box a's workload on the lab network, which pings the gateway
// through the bond.
const ctLAN = `  - name: ctlan
    image: oci-layout:images/busybox
    command: [sh, -c, "exec sleep 100000"]
    nics: [{ipv4: {address: 192.168.60.11/24}}]
    memory: 32MiB
`

// TestOverlaysAndBond boots two appliances on one segment that carries
// no VLANs. Containers on VLAN 10 of each box ping each other over VXLAN,
// and those on VLAN 20 over a gretap (each the positive control of the
// other); across the VLANs nothing gets through, though all four share
// one subnet. The wire shows VXLAN and GRE and no 802.1Q tag; status
// shows each tunnel with its remote and the MAC learned behind it. Box
// a's uplink is an active-backup bond of its two NICs: a ping stream from
// its lab-network container to the gateway goes on when QMP takes the
// active member's link down, the loss is printed and bounded, and the
// status and the log show the failover.
func TestOverlaysAndBond(t *testing.T) {
	harness.Require(t)
	start := time.Now()
	oci := busyboxLayout(t)
	seg := harness.NewSegment(t, "lab")
	cfgA := harness.WriteConfig(t, "overlay-a.yaml", overlayBox("ov-a", 1, 2, "{bond: [eth0, eth1], mode: active-backup}", ctLAN))
	cfgB := harness.WriteConfig(t, "overlay-b.yaml", overlayBox("ov-b", 2, 1, "eth0", ""))
	add := harness.BuildArgs("--add-file", guestState+"/images/busybox="+oci)
	imgA := harness.BuildImage(t, cfgA, add)
	imgB := harness.BuildImage(t, cfgB, add)
	a := imgA.Boot(t, harness.Options{Name: "a", MemoryMiB: 1024, NICs: []harness.NIC{
		{Segment: seg, MAC: "52:54:00:00:60:01"}, {Segment: seg, MAC: "52:54:00:00:60:11"}}})
	b := imgB.Boot(t, harness.Options{Name: "b", MemoryMiB: 1024, NICs: []harness.NIC{{Segment: seg, MAC: "52:54:00:00:60:02"}}})
	pids := map[string]map[string]string{}
	for _, m := range []*harness.Machine{a, b} {
		n := networkOf(t, m.ExpectReady(readyTimeout))
		pids[m.Name] = map[string]string{}
		for _, ct := range []string{"ct10", "ct20", "ctlan"} {
			if p := regexp.MustCompile(`containers: ` + ct + `: running pid (\d+)`).FindStringSubmatch(m.Output()); p != nil {
				pids[m.Name][ct] = p[1]
			}
		}
		if m == a && (n.Uplink != "bond0" || n.UplinkMAC != "52:54:00:00:60:01" || n.Bridge != "br0") {
			t.Errorf("a: uplink %s MAC %s bridge %s, want bond0 with eth0's MAC on br0", n.Uplink, n.UplinkMAC, n.Bridge)
		}
		openShell(t, m)
	}
	t.Logf("both boxes ready and their shells open after %.1fs", time.Since(start).Seconds())
	if len(pids["a"]) != 3 || len(pids["b"]) != 2 {
		t.Fatalf("containers not running: %v", pids)
	}
	if out := mustShell(t, a, "cat /sys/class/net/br0/address /sys/class/net/bond0/address"); strings.Count(out, "52:54:00:00:60:01") != 2 {
		t.Errorf("a: bridge and bond MACs:\n%s", out)
	}
	// ping runs busybox's ping in a container's network namespace.
	ping := func(m *harness.Machine, ct, addr string) bool {
		_, err := m.Shell(shellTimeout, fmt.Sprintf("nsenter -t %s -n ping -c 2 -W 2 %s", pids[m.Name][ct], addr))
		return err == nil
	}
	if !ping(a, "ct10", "10.0.10.2") {
		t.Error("a's VLAN 10 container cannot ping b's over VXLAN")
	}
	if !ping(a, "ct20", "10.0.10.4") {
		t.Error("a's VLAN 20 container cannot ping b's over gretap")
	}
	if ping(a, "ct10", "10.0.10.4") {
		t.Error("a's VLAN 10 container reached b's VLAN 20 container")
	}
	if ping(b, "ct20", "10.0.10.1") {
		t.Error("b's VLAN 20 container reached a's VLAN 10 container")
	}
	if out := mustShell(t, a, "nsenter -t "+pids["a"]["ct10"]+" -n ip link show eth0"); !strings.Contains(out, "mtu 1450") {
		t.Errorf("a: ct10's eth0 is not at the VXLAN's MTU 1450:\n%s", out)
	}

	// The wire: the overlays' traffic is VXLAN (UDP 4789) and GRE
	// between the boxes' uplink addresses, never an 802.1Q frame.
	var vxlan, gre, tagged int
	for _, f := range seg.Frames() {
		if _, ok := f.VLAN(); ok {
			tagged++
		}
		d := f.Data
		if len(d) < 38 || binary.BigEndian.Uint16(d[12:14]) != 0x0800 {
			continue
		}
		ihl := int(d[14]&0x0f) * 4
		switch {
		case d[23] == 17 && len(d) >= 14+ihl+4 && binary.BigEndian.Uint16(d[14+ihl+2:]) == 4789:
			vxlan++
		case d[23] == 47:
			gre++
		}
	}
	t.Logf("frames on the wire: %d VXLAN, %d GRE, %d tagged", vxlan, gre, tagged)
	if vxlan == 0 || gre == 0 || tagged != 0 {
		t.Errorf("the wire has %d VXLAN, %d GRE and %d tagged frames; want VXLAN and GRE and no tag", vxlan, gre, tagged)
	}
	waitStatus(t, a, "the tunnels with their remotes and learned MACs",
		`overlay +vxlan10 VLAN 10 VNI 1010 to 192\.168\.60\.2, MTU 1450; learned .*02:00:00:00:02:10 via 192\.168\.60\.2`,
		`overlay +gretap20 VLAN 20 to 192\.168\.60\.2, MTU 1462; learned .*02:00:00:00:02:20`,
		`bond +bond0 active-backup, active eth0; eth0 carrier active, eth1 carrier backup`)

	// The failover: a ping stream every 0.2 s to the gateway, and eth0
	// taken down 3 s into it.
	const count = 60
	streamStart := time.Now()
	mustShell(t, a, fmt.Sprintf("{ nsenter -t %s -n ping -i 0.2 -c %d -W 1 192.168.60.2 >/tmp/stream 2>&1 & }", pids["a"]["ctlan"], count))
	if _, err := a.Shell(shellTimeout, "until [ $(grep -c 'seq=' /tmp/stream) -ge 10 ]; do sleep 0.2; done"); err != nil {
		t.Fatalf("the ping stream does not get going: %v\n%s", err, mustShell(t, a, "cat /tmp/stream"))
	}
	if _, err := a.QMP("set_link", map[string]any{"name": "net0", "up": false}); err != nil {
		t.Fatal(err)
	}
	downAt := time.Since(streamStart)
	out, err := a.Shell(time.Minute, "until grep -q 'packets transmitted' /tmp/stream; do sleep 0.5; done; grep 'packets transmitted' /tmp/stream")
	if err != nil {
		t.Fatalf("the ping stream did not end: %v", err)
	}
	var sent, got int
	if _, err := fmt.Sscanf(shellLastLine(out), "%d packets transmitted, %d packets received", &sent, &got); err != nil {
		t.Fatalf("ping summary %q: %v", out, err)
	}
	lost := sent - got
	t.Logf("bond failover: eth0 down %.1fs into a stream of %d pings at 0.2 s: %d lost (%.1f s of traffic)", downAt.Seconds(), sent, lost, float64(lost)*0.2)
	if sent != count || lost > 10 {
		t.Errorf("the ping stream lost %d of %d across the failover; want at most 10 (2 s)", lost, sent)
	}
	if got < count/2 {
		t.Errorf("only %d of %d pings answered: the stream did not keep going", got, sent)
	}
	// The log said so as it happened (the shell has waited out the
	// stream, so both lines are on the console by now).
	for _, line := range []string{`bond bond0: member eth0 LOST CARRIER`, `bond bond0: active member eth0 -> eth1`} {
		if !regexp.MustCompile(line).MatchString(a.Output()) {
			t.Errorf("a: no console line %s", line)
		}
	}
	waitStatus(t, a, "the failover",
		`bond +bond0 active-backup, active eth1; eth0 no carrier backup \(1 failures\), eth1 carrier active`)
	t.Logf("test took %.1fs", time.Since(start).Seconds())
}
