package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/netcfg/lldp"
	"github.com/nucbox/nucbox/test/harness"
)

// Debian's ip and bridge go into the images of the VLAN tests: busybox's
// ip applet knows neither bridge VLAN tables nor VLAN links, and a shell
// running busybox prefers its applet, hence the full paths in commands.
const (
	debianIP     = "/bin/ip"
	debianBridge = "/sbin/bridge"
)

func withDebianIPTools() harness.ImageOption {
	return harness.BuildArgs("--add-binary", debianIP, "--add-binary", debianBridge)
}

// networkOf decodes the network part of a ready summary.
func networkOf(t testing.TB, ri harness.ReadyInfo) box.NetworkSummary {
	t.Helper()
	var s struct {
		Network *box.NetworkSummary `json:"network"`
	}
	if err := json.Unmarshal([]byte(ri.Line), &s); err != nil {
		t.Fatalf("ready summary: %v", err)
	}
	if s.Network == nil {
		t.Fatalf("ready summary has no network: %s", ri.Line)
	}
	js, _ := json.Marshal(s.Network)
	t.Logf("network summary: %s", js)
	return *s.Network
}

// openShell asks for the console shell the appliance offers after ready.
func openShell(t testing.TB, m *harness.Machine) {
	t.Helper()
	if _, err := m.Expect(shellTimeout, `press Enter for a shell`); err != nil {
		t.Fatal(err)
	}
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
}

func mustShell(t testing.TB, m *harness.Machine, cmd string) string {
	t.Helper()
	out, err := m.Shell(shellTimeout, cmd)
	if err != nil {
		t.Fatalf("%s: %v", m.Name, err)
	}
	return out
}

var valueLine = regexp.MustCompile(`(?m)nbx-val:(.*)$`)

// shellValue is the one-line output of a shell expression. It is marked
// because the kernel prints on the same console (bridge port state
// changes, say), and its lines can land between the shell's.
func shellValue(t testing.TB, m *harness.Machine, expr string) string {
	t.Helper()
	out := mustShell(t, m, `echo "nbx-val:$(`+expr+`)"`)
	v := valueLine.FindAllStringSubmatch(out, -1)
	if v == nil {
		t.Fatalf("%s: no value from %s in:\n%s", m.Name, expr, out)
	}
	return strings.TrimSpace(v[len(v)-1][1])
}

// sysValue reads one sysfs attribute of a link.
func sysValue(t testing.TB, m *harness.Machine, link, attr string) string {
	t.Helper()
	return shellValue(t, m, fmt.Sprintf("cat /sys/class/net/%s/%s", link, attr))
}

// masterOf is the bridge a link is a port of, or "" for none.
func masterOf(t testing.TB, m *harness.Machine, link string) string {
	t.Helper()
	return shellValue(t, m, "l=$(readlink /sys/class/net/"+link+"/master) && basename $l")
}

// TestUplinkDHCPTakeover boots the basic config on QEMU's user network:
// the box leases its address by DHCP on the uplink, the bridge takes the
// uplink over with its MAC and address, and the gateway still answers,
// by the box's own probe and by a ping from the console.
func TestUplinkDHCPTakeover(t *testing.T) {
	harness.Require(t)
	m, ri := bootBasic(t)
	n := networkOf(t, ri)

	if n.Uplink == "" || n.Bridge != "br0" || n.Link != "br0" {
		t.Errorf("uplink %q bridge %q link %q; want the uplink taken over by br0 holding the address", n.Uplink, n.Bridge, n.Link)
	}
	if !n.DHCP || n.LeaseServer != "10.0.2.2" {
		t.Errorf("dhcp %v from %q; want a lease from QEMU's 10.0.2.2", n.DHCP, n.LeaseServer)
	}
	if !slices.Contains(n.Addresses, "10.0.2.15/24") || n.Gateway != "10.0.2.2" {
		t.Errorf("addresses %v gateway %q; want 10.0.2.15/24 via 10.0.2.2", n.Addresses, n.Gateway)
	}
	if n.Probe == nil || !n.Probe.OK || n.Probe.Target != "10.0.2.2" {
		t.Errorf("probe %+v; want the gateway 10.0.2.2 answering", n.Probe)
	}
	if n.Rollback != nil {
		t.Errorf("rolled back: %+v", n.Rollback)
	}
	if n.OutageMS <= 0 || !n.Filtering {
		t.Errorf("outage %.1f ms, vlan filtering %v; want a measured outage and filtering on", n.OutageMS, n.Filtering)
	}
	t.Logf("takeover: moved in %.1f ms, outage %.1f ms, probe %d attempt(s); network stage %d ms + DHCP wait %d ms",
		n.MovedMS, n.OutageMS, n.Probe.Attempts, n.NetworkMS, n.DHCPWaitMS)

	// The kernel's view: the bridge has the uplink's MAC and the lease's
	// address, the uplink is its port and has no address of its own.
	openShell(t, m)
	up := n.Uplink
	if br, ul := sysValue(t, m, "br0", "address"), sysValue(t, m, up, "address"); br != ul || br != n.UplinkMAC {
		t.Errorf("br0 MAC %s, %s MAC %s, summary %s: want all equal", br, up, ul, n.UplinkMAC)
	}
	if master := masterOf(t, m, up); master != "br0" {
		t.Errorf("%s master = %q, want br0", up, master)
	}
	if v := sysValue(t, m, "br0", "bridge/vlan_filtering"); v != "1" {
		t.Errorf("br0 vlan_filtering = %s", v)
	}
	if out := mustShell(t, m, "ip -4 addr show dev br0"); !strings.Contains(out, "10.0.2.15/24") {
		t.Errorf("br0 addresses:\n%s", out)
	}
	if out := mustShell(t, m, "ip -4 addr show dev "+up); strings.Contains(out, "inet ") {
		t.Errorf("%s still has an address:\n%s", up, out)
	}
	if out := mustShell(t, m, "ip route show default"); !strings.Contains(out, "via 10.0.2.2 dev br0") {
		t.Errorf("default route:\n%s", out)
	}
	if out, err := m.Shell(shellTimeout, "ping -c 1 -W 5 10.0.2.2"); err != nil {
		t.Errorf("ping the gateway from the console: %v", err)
	} else {
		t.Logf("ping: %s", lastLines(out, 2))
	}
}

// vlanBox is the config of one appliance of TestVLANTagging: its segment
// NIC is the uplink, a trunk with the box's own address untagged (native
// VLAN 1) and box addresses on tagged VLANs. No gateway, no probe: the
// boxes boot side by side and neither can vouch for the other.
func vlanBox(name string, host int, vlans []int, addrs map[int]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname: %s\nuplink:\n  interface: auto\n  bridge: br0\n", name)
	fmt.Fprintf(&b, "  ipv4: {address: 192.168.50.%d/24}\n  vlans: %s\n  probe: {disabled: true}\n  addresses:\n", host, strings.ReplaceAll(fmt.Sprint(vlans), " ", ", "))
	for _, v := range vlans {
		fmt.Fprintf(&b, "    - {vlan: %d, address: %s}\n", v, addrs[v])
	}
	return b.String()
}

// vlanPorts gives box A an access and a trunk port, to check their VLAN
// tables. The image has no QEMU, so the VM itself fails to start after
// the network stage made its TAPs (not the box's failure); restart: never
// spares the guest the retries.
const vlanPorts = `vms:
  - name: web
    restart: never
    nics: [{vlan: 10}, {trunk: [10, 20], native: 30}]
`

// TestVLANTagging puts two appliances on one Ethernet segment. Both carry
// VLANs 10 and 20 with box addresses in each: same-VLAN addresses reach
// each other and the frames on the wire carry 802.1Q tags 10 and 20. A
// carries VLAN 30 and B VLAN 40, with addresses in one subnet: the tagged
// frames of 30 reach B's bridge, which is not a member and drops them.
func TestVLANTagging(t *testing.T) {
	harness.Require(t)
	seg := harness.NewSegment(t, "trunk")
	// A's VLAN check: the lab routers of 10 and 20 are named; the test
	// plays the one of 10 only, as a switch port that does not carry 20.
	cfgA := harness.WriteConfig(t, "vlan-a.yaml", vlanBox("vlan-a", 1, []int{10, 20, 30},
		map[int]string{10: "10.0.10.1/24, gateway: 10.0.10.254", 20: "10.0.20.1/24, gateway: 10.0.20.254", 30: "10.0.99.1/24"})+vlanPorts)
	cfgB := harness.WriteConfig(t, "vlan-b.yaml", vlanBox("vlan-b", 2, []int{10, 20, 40},
		map[int]string{10: "10.0.10.2/24", 20: "10.0.20.2/24", 40: "10.0.99.2/24"}))
	routerOnVLAN(t, seg, 10, netip.MustParseAddr("10.0.10.254"))
	imgA := harness.BuildImage(t, cfgA, withDebianIPTools())
	imgB := harness.BuildImage(t, cfgB, withDebianIPTools())
	a := imgA.Boot(t, harness.Options{Name: "a", NICs: []harness.NIC{{Segment: seg, MAC: "52:54:00:00:50:01"}}})
	b := imgB.Boot(t, harness.Options{Name: "b", NICs: []harness.NIC{{Segment: seg, MAC: "52:54:00:00:50:02"}}})
	for _, m := range []*harness.Machine{a, b} {
		n := networkOf(t, m.ExpectReady(readyTimeout))
		if !n.Filtering || n.Bridge != "br0" || len(n.VLANAddresses) != 3 {
			t.Errorf("%s: filtering %v bridge %q VLAN addresses %v", m.Name, n.Filtering, n.Bridge, n.VLANAddresses)
		}
		openShell(t, m)
	}

	// The bridge VLAN tables as the kernel has them. The uplink is a
	// trunk: VLAN 1 untagged as PVID, the others tagged; the bridge
	// itself carries the same, for its address and its VLAN interfaces.
	table := mustShell(t, a, debianBridge+" -j vlan show")
	t.Logf("a: bridge vlan show:\n%s", mustShell(t, a, debianBridge+" vlan show"))
	vlans := parseBridgeVLANs(t, table)
	want := "1 pvid untagged,10,20,30"
	for _, link := range []string{"eth0", "br0"} {
		if got := vlans[link]; got != want {
			t.Errorf("a: %s VLANs %q, want %q", link, got, want)
		}
	}
	// Access port: its VLAN only, untagged, as PVID; trunk: tagged VLANs
	// and the native one untagged. VLAN 1 on neither.
	for link, want := range map[string]string{"t-web-0": "10 pvid untagged", "t-web-1": "10,20,30 pvid untagged"} {
		if got := vlans[link]; got != want {
			t.Errorf("a: %s VLANs %q, want %q", link, got, want)
		}
	}
	for _, v := range []string{"10", "20", "30"} {
		out := mustShell(t, a, debianIP+" -d link show vlan"+v)
		if !strings.Contains(out, "vlan protocol 802.1Q id "+v) || !strings.Contains(out, "@br0") {
			t.Errorf("a: vlan%s is not an 802.1Q link on br0:\n%s", v, out)
		}
	}

	ping := func(m *harness.Machine, addr string) error {
		_, err := m.Shell(shellTimeout, "ping -c 2 -W 3 "+addr)
		return err
	}
	for _, addr := range []string{"192.168.50.2", "10.0.10.2", "10.0.20.2"} {
		if err := ping(a, addr); err != nil {
			t.Errorf("a -> %s: %v", addr, err)
		}
	}
	if err := ping(b, "10.0.10.1"); err != nil {
		t.Errorf("b -> 10.0.10.1: %v", err)
	}
	if err := ping(a, "10.0.99.2"); err == nil {
		t.Errorf("a (VLAN 30) reached 10.0.99.2 on b's VLAN 40")
	}

	// The wire: tagged frames for 10 and 20 from both boxes, 30 from A
	// only, and the box addresses untagged.
	count := map[string]map[int]int{}
	untagged := map[string]int{}
	for _, f := range seg.Frames() {
		if count[f.From] == nil {
			count[f.From] = map[int]int{}
		}
		if id, ok := f.VLAN(); ok {
			count[f.From][id]++
		} else {
			untagged[f.From]++
		}
	}
	t.Logf("tagged frames by sender and VLAN: %v; untagged: %v", count, untagged)
	for _, from := range []string{"a.nic0", "b.nic0"} {
		for _, id := range []int{10, 20} {
			if count[from][id] == 0 {
				t.Errorf("no frame tagged %d from %s", id, from)
			}
		}
		if untagged[from] == 0 {
			t.Errorf("no untagged frame from %s", from)
		}
	}
	if count["a.nic0"][30] == 0 {
		t.Errorf("no frame tagged 30 from a: the negative check proved nothing")
	}
	// B talks on its own VLAN 40 (IPv6 neighbour discovery, say), but
	// never on 30, and nothing of A's on 30 made it answer for 10.0.99.2.
	if count["b.nic0"][30] != 0 {
		t.Errorf("b sent %d frames on VLAN 30, which it does not carry", count["b.nic0"][30])
	}
	for _, f := range seg.Frames() {
		if f.From == "b.nic0" && isARPReplyFrom(f, [4]byte{10, 0, 99, 2}) {
			id, _ := f.VLAN()
			t.Errorf("b answered ARP for 10.0.99.2 (VLAN %d)", id)
		}
	}

	// LLDP: each box tells the segment who it is, and sees the other
	// and a switch that a device of the test plays.
	for _, m := range []*harness.Machine{a, b} {
		f, err := seg.WaitFrame(time.Minute, func(f harness.Frame) bool {
			n, err := lldp.Parse(f.Data)
			return err == nil && f.From == m.Name+".nic0" && n.SystemName == "vlan-"+m.Name
		})
		if err != nil {
			t.Errorf("%s: no LLDP frame of its own on the wire: %v", m.Name, err)
			continue
		}
		n, _ := lldp.Parse(f.Data)
		if n.PortID != "eth0" || n.PortDescription != "uplink of br0" || len(n.MgmtAddresses) == 0 {
			t.Errorf("%s advertises %+v", m.Name, n)
		}
	}
	// The VLAN check after the takeover: A's gateway on 10 answered (the
	// positive control), the one on 20 did not although A asked for it
	// tagged 20, and 30 has no gateway and no DHCP server. B names no
	// gateways: its VLANs got DHCP discovers that nothing answered.
	waitStatus(t, a, "the VLAN check's verdicts",
		`vlan 10 +VLAN 10 is carried: the gateway 10\.0\.10\.254 answered ARP from `+routerMAC.String(),
		`vlan 20 +the switch port does not carry VLAN 20: the gateway 10\.0\.20\.254 did not answer ARP`,
		`vlan 30 +no answer on VLAN 30 \(no gateway configured, no DHCP server answered\)`)
	if _, err := seg.WaitFrame(time.Second, func(f harness.Frame) bool {
		_, ok := arpRequestFor(f, 20, netip.MustParseAddr("10.0.20.254"))
		return ok && f.From == "a.nic0"
	}); err != nil {
		t.Errorf("a never asked for its VLAN 20 gateway tagged 20: %v", err)
	}
	waitStatus(t, b, "the VLAN check's verdicts",
		`vlan 40 +no answer on VLAN 40 \(no gateway configured, no DHCP server answered\)`)
	var js struct {
		VLANCheck []struct {
			VLAN  int    `json:"vlan"`
			State string `json:"state"`
		} `json:"vlan_check"`
	}
	// One line on the console: the status JSON's vlan_check, spaces out.
	out := mustShell(t, a, `nucbox status -o json | tr -d ' \n' | grep -o '"vlan_check":\[[^]]*\]'`)
	line := regexp.MustCompile(`(?m)^"vlan_check":\[.*\]\s*$`).FindString(out)
	if err := json.Unmarshal([]byte("{"+strings.TrimSpace(line)+"}"), &js); err != nil || len(js.VLANCheck) != 3 ||
		js.VLANCheck[0].State != "carried" || js.VLANCheck[1].State != "not-carried" || js.VLANCheck[2].State != "no-answer" {
		t.Errorf("a: status JSON vlan_check %+v (%v)", js.VLANCheck, err)
	}

	seg.Inject("switch", lldpSwitchFrame(t, "lab-switch", "Gi1/0/7", "rack 3"))
	for _, m := range []*harness.Machine{a, b} {
		other := map[string]string{"a": "vlan-b", "b": "vlan-a"}[m.Name]
		waitStatus(t, m, "the switch and the other box as LLDP neighbours",
			`switch +eth0 is on lab-switch port Gi1/0/7 \(rack 3\)`,
			`switch +eth0 is on `+other+` port eth0 \(uplink of br0\), management 192\.168\.50\.`)
	}
}

// lldpSwitchFrame is the LLDP frame of a lab switch's port.
func lldpSwitchFrame(t *testing.T, system, port, desc string) []byte {
	t.Helper()
	f, err := lldp.Frame(lldp.Local{MAC: net.HardwareAddr{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}, Port: port, PortDesc: desc, SystemName: system})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitStatus runs nucbox status in m's console shell until its output
// matches every pattern, for up to a minute.
func waitStatus(t *testing.T, m *harness.Machine, what string, patterns ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := mustShell(t, m, "nucbox status")
		missing := ""
		for _, p := range patterns {
			if !regexp.MustCompile(`(?m)^` + p).MatchString(out) {
				missing = p
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %s: no line matching %s in nucbox status:\n%s", m.Name, what, missing, out)
			return
		}
		time.Sleep(time.Second) // the status is polled, as a person would
	}
}

// isARPReplyFrom reports whether f is an ARP reply, tagged or not, whose
// sender protocol address is ip.
func isARPReplyFrom(f harness.Frame, ip [4]byte) bool {
	d := f.Data
	if _, tagged := f.VLAN(); tagged {
		d = append(append([]byte(nil), d[:12]...), d[16:]...)
	}
	if len(d) < 42 || d[12] != 0x08 || d[13] != 0x06 || d[21] != 2 {
		return false
	}
	return [4]byte(d[28:32]) == ip
}

// parseBridgeVLANs turns `bridge -j vlan show` into link -> "1 pvid
// untagged,10,20".
func parseBridgeVLANs(t testing.TB, js string) map[string]string {
	t.Helper()
	// The JSON is one line; kernel lines on the console start with a
	// timestamp in brackets, not with "[{".
	line := regexp.MustCompile(`(?m)^\[(\{.*)?\]\s*$`).FindString(js)
	var links []struct {
		Ifname string `json:"ifname"`
		VLANs  []struct {
			VLAN  int      `json:"vlan"`
			Flags []string `json:"flags"`
		} `json:"vlans"`
	}
	if err := json.Unmarshal([]byte(line), &links); err != nil {
		t.Fatalf("bridge -j vlan show: %v:\n%s", err, js)
	}
	out := map[string]string{}
	for _, l := range links {
		var parts []string
		for _, v := range l.VLANs {
			p := fmt.Sprint(v.VLAN)
			for _, f := range v.Flags {
				switch f {
				case "PVID":
					p += " pvid"
				case "Egress Untagged":
					p += " untagged"
				}
			}
			parts = append(parts, p)
		}
		out[l.Ifname] = strings.Join(parts, ",")
	}
	return out
}

// rollbackConfig probes an address on the user network that nobody has:
// the takeover cannot be verified and must be undone.
const rollbackConfig = `hostname: rollback
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  ipv6: {address: "fec0::77/64", gateway: "fe80::2"}
  probe: {target: 10.0.2.77, timeout: 2s}
`

// TestProbeRollback: the probe after the takeover fails, so the address
// goes back onto the uplink, the box says so in its ready summary (a
// rollback leaves the box reachable, so it is not a failed boot), and the
// gateway still answers. The static IPv6 address goes back with it and
// reaches QEMU's fec0::2 through its router fe80::2.
func TestProbeRollback(t *testing.T) {
	harness.Require(t)
	img := harness.BuildImage(t, harness.WriteConfig(t, "rollback.yaml", rollbackConfig))
	m := img.Boot(t, harness.Options{NICs: uplink()})
	m.MustExpect(readyTimeout, `nucbox: network: .*ROLLED BACK`)
	n := networkOf(t, m.ExpectReady(readyTimeout))
	if n.Rollback == nil {
		t.Fatalf("no rollback in the ready summary: %+v", n)
	}
	up := n.Uplink
	if n.Rollback.Restored != up || n.Link != up || n.Bridge != "" {
		t.Errorf("restored %q link %q bridge %q; want the address back on %s, off the bridge", n.Rollback.Restored, n.Link, n.Bridge, up)
	}
	if !n.Rollback.Reachable {
		t.Errorf("the restored state does not reach its gateway: %+v", n.Rollback)
	}
	if n.Probe == nil || n.Probe.OK || n.Probe.Target != "10.0.2.77" {
		t.Errorf("probe %+v; want a failed probe of 10.0.2.77", n.Probe)
	}
	if !slices.Contains(n.Addresses, "10.0.2.15/24") {
		t.Errorf("addresses %v; want the lease's 10.0.2.15/24", n.Addresses)
	}

	openShell(t, m)
	if out := mustShell(t, m, "ip -4 addr show dev "+up); !strings.Contains(out, "10.0.2.15/24") {
		t.Errorf("%s has not got its address back:\n%s", up, out)
	}
	if out := mustShell(t, m, "ip -4 addr show dev br0"); strings.Contains(out, "inet ") {
		t.Errorf("br0 kept an address:\n%s", out)
	}
	if master := masterOf(t, m, up); master != "" {
		t.Errorf("%s is still a port of %s", up, master)
	}
	if out := mustShell(t, m, "ip route show default"); !strings.Contains(out, "via 10.0.2.2 dev "+up) {
		t.Errorf("default route:\n%s", out)
	}
	if _, err := m.Shell(shellTimeout, "ping -c 1 -W 5 10.0.2.2"); err != nil {
		t.Errorf("ping the gateway after the rollback: %v", err)
	}
	if n.IPv6Mode != "static" || !slices.Contains(n.IPv6, "fec0::77/64") {
		t.Errorf("ready summary IPv6 %s %v; want the static fec0::77/64 back on %s", n.IPv6Mode, n.IPv6, up)
	}
	if out := mustShell(t, m, "ip -6 addr show dev "+up); !strings.Contains(out, "fec0::77/64") {
		t.Errorf("%s has not got its IPv6 address back:\n%s", up, out)
	}
	if out := mustShell(t, m, "ip -6 addr show dev br0"); strings.Contains(out, "fec0::77") {
		t.Errorf("br0 kept the IPv6 address:\n%s", out)
	}
	// Duplicate address detection holds the address back for a second.
	if out, err := m.Shell(shellTimeout, "n=0; until ping -c 1 -W 2 fec0::2; do n=$((n+1)); [ $n -ge 10 ] && exit 1; sleep 1; done"); err != nil {
		t.Errorf("ping fec0::2 from the restored static IPv6 address: %v\n%s", err, out)
	}
}

// noUplinkConfig waits briefly for a NIC the machine does not have.
const noUplinkConfig = `hostname: no-uplink
uplink:
  interface: auto
  carrier-timeout: 3s
  bridge: br0
  ipv4: dhcp
`

// TestNoUplinkFails: a box without an uplink is unreachable, so the
// network stage fails the boot, names what it looked for and what it saw,
// and leaves PID 1 running with the rescue shell on the console.
func TestNoUplinkFails(t *testing.T) {
	harness.Require(t)
	img := harness.BuildImage(t, harness.WriteConfig(t, "no-uplink.yaml", noUplinkConfig))
	m := img.Boot(t, harness.Options{})
	failed := m.MustExpect(readyTimeout, `nucbox: (?:ready|failed: (\S+): (.*))$`)
	if failed[1] != "network" || !strings.Contains(failed[2], "no uplink (auto) with carrier after 3s") ||
		!strings.Contains(failed[2], "links seen: ") || !strings.Contains(failed[2], "lo (") {
		t.Fatalf("want a network failure naming the missing uplink and the links seen, got %q", failed[0])
	}
	m.MustExpect(10*time.Second, harness.RescuePattern)
	if out := mustShell(t, m, "kill -0 1 && grep '^State:' /proc/1/status"); strings.Contains(out, "zombie") {
		t.Errorf("PID 1: %s", out)
	}
}
