package vswitch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/test/xfer"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// xferPort is where the receiving workload listens; the workloads' port
// policies allow it by an ACL rule whose counter shows the traffic passed
// the rules.
const xferPort = 5201

// throughputLab is the lab of the throughput benchmark (P7): two
// workload namespaces, a and b, joined three ways at once, each way a
// subnet of its own, so that the same two namespaces (and the same
// sender and receiver) measure every path in one run:
//
//   - veth: a bare veth pair between them (10.90.1.0/24), the baseline;
//   - bridge: one box's bridge (10.90.2.0/24), both workloads on VLAN 10
//     as containers are, next to an uplink port;
//   - vxlan: two boxes (10.90.3.0/24), each workload on its own box's
//     bridge, the boxes' VLAN 10 overlaid by VXLAN over an underlay veth
//     between their uplinks, the boxes' addresses on their bridges.
//
// The bridges are made by Switch.Reconcile from the Desired state a box
// compiles, and each workload port gets a port policy through
// policy.Apply (guards, ACL rules with counters), as a box with policies
// has them.
type throughputLab struct {
	a, b          *netnstest.NS
	box, ovA, ovB *netnstest.NS
	// vlanFiltering tells whether the bridges filter VLANs; a host kernel
	// without it gets flat bridges (ENVIRONMENT.md: the host lacks it).
	vlanFiltering bool
	paths         []labPath
	// receiver is the receiving thread's ID; softirqd the ksoftirqd
	// threads' schedstat files (throughput_cpu_test.go).
	receiver atomic.Int64
	softirqd []string
}

type labPath struct {
	name string
	dst  string // the receiver's address on this path
}

var (
	macBridgeA = net.HardwareAddr{0x02, 0x70, 0, 0, 2, 1}
	macBridgeB = net.HardwareAddr{0x02, 0x70, 0, 0, 2, 2}
	macOvA     = net.HardwareAddr{0x02, 0x70, 0, 0, 3, 1}
	macOvB     = net.HardwareAddr{0x02, 0x70, 0, 0, 3, 2}
)

func newThroughputLab(t testing.TB) *throughputLab {
	l := &throughputLab{a: netnstest.New(t, "wa"), b: netnstest.New(t, "wb")}

	netnstest.Veth(t, l.a, "d0", l.b, "d0", true)
	l.a.Up(t, "d0")
	l.a.AddAddr(t, "d0", "10.90.1.1/24")
	l.b.AddAddr(t, "d0", "10.90.1.2/24")

	// The bridge path: one box, both workloads on VLAN 10.
	l.box = netnstest.New(t, "box")
	netnstest.Veth(t, l.box, "eth0", netnstest.New(t, "lan"), "lan0", true)
	d := vswitch.Desired{Bridge: vswitch.Bridge{Name: "br0", VLANFiltering: true, NativeVLAN: 1}, Ports: []vswitch.Port{
		{Name: "eth0", Kind: vswitch.KindExternal, Label: "uplink", Trunk: []int{10}, Native: 1},
		{Name: "v-a-0", Kind: vswitch.KindVeth, Label: "ct/a/0", MAC: macBridgeA, Peer: "p-a-0", VLAN: 10},
		{Name: "v-b-0", Kind: vswitch.KindVeth, Label: "ct/b/0", MAC: macBridgeB, Peer: "p-b-0", VLAN: 10},
	}}
	sw := openTB(t, l.box)
	_, err := sw.Reconcile(context.Background(), d)
	l.vlanFiltering = !errors.Is(err, vswitch.ErrNoVLANFiltering)
	if !l.vlanFiltering {
		t.Logf("bridge without VLAN filtering: %v", err)
		_, err = sw.Reconcile(context.Background(), flat(d))
	}
	if err != nil {
		t.Fatal(err)
	}
	moveWorkload(t, l.box, "p-a-0", l.a, "10.90.2.1/24")
	moveWorkload(t, l.box, "p-b-0", l.b, "10.90.2.2/24")
	applyPolicy(t, l.box, workloadPolicy("v-a-0", "a.0", macBridgeA, "10.90.2.1"),
		workloadPolicy("v-b-0", "b.0", macBridgeB, "10.90.2.2"))
	applyFirewall(t, l.box, "br0")

	// The overlay path: two boxes whose underlay carries no VLANs.
	la, lb := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	l.ovA, l.ovB = netnstest.New(t, "ova"), netnstest.New(t, "ovb")
	netnstest.Veth(t, l.ovA, "eth0", l.ovB, "eth0", false)
	l.overlayBox(t, l.ovA, la, lb, "o-a-0", macOvA, l.a, "10.90.3.1")
	l.overlayBox(t, l.ovB, lb, la, "o-b-0", macOvB, l.b, "10.90.3.2")

	l.paths = []labPath{
		{"veth", fmt.Sprintf("10.90.1.2:%d", xferPort)},
		{"bridge", fmt.Sprintf("10.90.2.2:%d", xferPort)},
		{"vxlan", fmt.Sprintf("10.90.3.2:%d", xferPort)},
	}
	var ln net.Listener
	if err := l.b.Namespace().Do(func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", xferPort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	served, started := make(chan error, 1), make(chan struct{})
	go func() {
		served <- onCPU(transferCPU, func() error {
			l.receiver.Store(int64(unix.Gettid()))
			close(started)
			return xfer.Serve(ln)
		})
	}()
	<-started
	l.softirqd = ksoftirqds()
	t.Cleanup(func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	return l
}

// overlayBox makes one box of the overlay: the underlay veth as its
// uplink port, the box's address on the bridge, a VXLAN port to the other
// box and the workload's port, both on VLAN 10, with the workload's MTU
// lowered to the tunnel's as the box compiles it. A bridge without VLAN
// filtering cannot keep VLAN 10 off the uplink, so there the underlay
// stays out of the bridge and holds the box's address itself.
func (l *throughputLab) overlayBox(t testing.TB, box *netnstest.NS, local, remote netip.Addr, port string, mac net.HardwareAddr, w *netnstest.NS, addr string) {
	t.Helper()
	peer := "q" + port[1:] // p-a-0 is the workload's bridge-path link
	d := vswitch.Desired{Bridge: vswitch.Bridge{Name: "br0", VLANFiltering: true, NativeVLAN: 1}, Ports: []vswitch.Port{
		{Name: "eth0", Kind: vswitch.KindExternal, Label: "uplink", Native: 1},
		{Name: "vxlan10", Kind: vswitch.KindVXLAN, Label: "overlay/10", MTU: 1450, VLAN: 10,
			Tunnel: &vswitch.Tunnel{VNI: 1010, Remotes: []netip.Addr{remote}, Port: 4789}},
		{Name: port, Kind: vswitch.KindVeth, Label: "ct/" + port, MAC: mac, Peer: peer, MTU: 1450, VLAN: 10},
	}}
	dev := "br0"
	if !l.vlanFiltering {
		d = flat(d)
		d.Ports = d.Ports[1:]
		dev = "eth0"
		box.Up(t, "eth0")
		box.AddAddr(t, "eth0", local.String()+"/24")
	}
	_, err := openTB(t, box).Reconcile(context.Background(), d.WithTunnelSource(local, dev))
	if errors.Is(err, vswitch.ErrNoTunnel) {
		ci.HostLacks(t, "VXLAN: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if dev == "br0" {
		box.AddAddr(t, "br0", local.String()+"/24")
	}
	moveWorkload(t, box, peer, w, addr+"/24")
	applyPolicy(t, box, workloadPolicy(port, "w.0", mac, addr))
	applyFirewall(t, box, dev)
}

func openTB(t testing.TB, ns *netnstest.NS) *vswitch.Switch {
	t.Helper()
	sw, err := vswitch.Open(ns.Namespace(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	return sw
}

// flat is d for a bridge that does not filter VLANs: one segment, no
// port VLANs (which such a bridge refuses).
func flat(d vswitch.Desired) vswitch.Desired {
	d.Bridge.VLANFiltering, d.Bridge.NativeVLAN = false, 0
	ports := make([]vswitch.Port, len(d.Ports))
	for i, p := range d.Ports {
		p.VLAN, p.Trunk, p.Native = 0, nil, 0
		ports[i] = p
	}
	d.Ports = ports
	return d
}

// moveWorkload moves a veth's workload end into the workload's namespace
// and gives it its address, as the container runtime does.
func moveWorkload(t testing.TB, box *netnstest.NS, link string, w *netnstest.NS, addr string) {
	t.Helper()
	if err := box.H.LinkSetNsFd(box.Link(t, link), int(w.Namespace().Handle())); err != nil {
		t.Fatal(err)
	}
	w.AddAddr(t, link, addr)
	w.Up(t, link)
}

// workloadPolicy is a port policy as a config with ACLs gives a workload:
// the guards, two deny rules and an allow rule for the transfer, each
// with its counter; no rate limit.
func workloadPolicy(link, name string, mac net.HardwareAddr, ip string) policy.Port {
	return policy.Port{Link: link, Name: name, MAC: mac.String(), IPv4: netip.MustParseAddr(ip),
		SpoofGuard: true, BPDUGuard: true, RAGuard: true,
		Rules: []policy.Rule{
			{Allow: false, Proto: "tcp", Port: 22},
			{Allow: false, In: true, Proto: "tcp", Port: 23},
			{Allow: true, Proto: "tcp", Port: xferPort},
		}}
}

func applyPolicy(t testing.TB, box *netnstest.NS, ports ...policy.Port) {
	t.Helper()
	if _, err := policy.Apply(box.Namespace(), policy.Spec{Ports: ports}); err != nil {
		t.Fatal(err)
	}
}

// applyFirewall gives a box namespace the firewall every box has
// (netcfg.ApplyFirewall, without segments), uplink the link holding the
// box's address. Besides its inet table, which bridged frames do not
// cross, it turns off br_netfilter's calls into the IP hooks for bridged
// frames where that module is loaded, as it is on this host and not on a
// box: without it every switched frame here took a trip through the IP
// hooks that a box's frames never take.
func applyFirewall(t testing.TB, box *netnstest.NS, uplink string) {
	t.Helper()
	if _, err := netcfg.ApplyFirewall(box.Namespace(), uplink, netcfg.Firewall{}); err != nil {
		t.Fatalf("%s: firewall: %v", box.Name, err)
	}
}

// sample is one transfer: its rate and the CPU time it cost.
type sample struct {
	xfer.Result
	CPU time.Duration
}

// CPUPerGiB is the CPU time the transfer cost per GiB moved.
func (s sample) CPUPerGiB() time.Duration {
	return time.Duration(float64(s.CPU) * float64(1<<30) / float64(s.Bytes))
}

// send moves n bytes from a to b over path p, both ends on transferCPU.
func (l *throughputLab) send(p labPath, n int64) (sample, error) {
	var c net.Conn
	// A path that drops the SYN fails the sample in seconds rather than
	// after the kernel's two minutes of retries.
	if err := l.a.Namespace().Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", p.dst, 5*time.Second)
		return err
	}); err != nil {
		return sample{}, fmt.Errorf("%s: %w", p.name, err)
	}
	defer c.Close() // xfer.Send closes it too; this is for the errors before
	var s sample
	err := onCPU(transferCPU, func() error {
		self, recv := unix.Gettid(), int(l.receiver.Load())
		s0, err := threadCPU(self)
		if err != nil {
			return err
		}
		r0, err := threadCPU(recv)
		if err != nil {
			return err
		}
		k0 := softirqCPU(l.softirqd)
		if s.Result, err = xfer.Send(c, n); err != nil {
			return err
		}
		s1, err := threadCPU(self)
		if err != nil {
			return err
		}
		r1, err := threadCPU(recv)
		if err != nil {
			return err
		}
		s.CPU = s1 - s0 + r1 - r0 + softirqCPU(l.softirqd) - k0
		return nil
	})
	if err != nil {
		err = fmt.Errorf("%s: %w", p.name, err)
	}
	return s, err
}

// allowed is the packet count of the ACL rule that allows the transfer
// out of link in box.
func allowed(t testing.TB, box *netnstest.NS, link string) uint64 {
	t.Helper()
	cs, err := policy.Counters(box.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("dport %d accept", xferPort)
	for _, c := range cs {
		if c.Chain == "out-"+link && strings.HasSuffix(c.Rule, want) {
			return c.Packets
		}
	}
	t.Fatalf("%s: no rule %q on %s among %+v", box.Name, want, link, cs)
	return 0
}

func txBytes(t testing.TB, n *netnstest.NS, link string) uint64 {
	t.Helper()
	return n.Link(t, link).Attrs().Statistics.TxBytes
}

// The benchmark's lab works before it is timed: a transfer over each
// path moves every byte, and goes where the path says: the bridge path
// and the overlay pass the ACL rule that allows them (its counter grows
// by the transfer) and the overlay's bytes leave box A by its VXLAN
// device, while the bare veth path touches neither box.
func TestThroughputLabPaths(t *testing.T) {
	l := newThroughputLab(t)
	t.Logf("VLAN filtering on the bridges: %v", l.vlanFiltering)
	// Where br_netfilter is loaded, the boxes keep bridged frames out of
	// the IP hooks, as a box does; a workload namespace, without the
	// firewall, has them on: the setting read is each namespace's own.
	const nfCall = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	sysctl := func(n *netnstest.NS) (v string) {
		_ = n.Namespace().Do(func() error {
			b, err := os.ReadFile(nfCall)
			v = strings.TrimSpace(string(b))
			return err
		})
		return v
	}
	if box, w := sysctl(l.box), sysctl(l.a); box != "" || w != "" {
		if box != "0" || sysctl(l.ovA) != "0" || w != "1" {
			t.Errorf("%s: %q in the bridge box, %q in overlay box A, %q in a workload; want 0, 0, 1", nfCall, box, sysctl(l.ovA), w)
		}
	} else {
		t.Logf("no br_netfilter here: %s absent", nfCall)
	}
	const n = 4 << 20
	type seen struct{ bridge, overlay, vxlan uint64 }
	read := func() seen {
		return seen{allowed(t, l.box, "v-a-0"), allowed(t, l.ovA, "o-a-0"), txBytes(t, l.ovA, "vxlan10")}
	}
	for _, p := range l.paths {
		before := read()
		r, err := l.send(p, n)
		if err != nil {
			t.Fatal(err)
		}
		after := read()
		t.Logf("%s: %v, %v of CPU; rule counters +%d (bridge), +%d (overlay); vxlan10 sent +%d bytes", p.name, r, r.CPU,
			after.bridge-before.bridge, after.overlay-before.overlay, after.vxlan-before.vxlan)
		if r.Bytes != n || r.Gbps() <= 0 || r.CPU <= 0 {
			t.Errorf("%s: %+v, want %d bytes at a rate and the CPU time they took", p.name, r, n)
		}
		// A rule carried the transfer when it counted at least one of
		// the sender's segments per 64 KiB (GSO's most); the path not
		// taken may still count a straggler of the transfer before (its
		// last ACK or FIN).
		passed := func(d uint64) bool { return d >= n/(64<<10) }
		// The tunnel also carries what the new links send by themselves
		// (IPv6 router solicitations, MLD reports): a few hundred bytes.
		notTunnelled := after.vxlan-before.vxlan < n/16
		bridged, overlaid := passed(after.bridge-before.bridge), passed(after.overlay-before.overlay)
		switch p.name {
		case "veth":
			if bridged || overlaid || !notTunnelled {
				t.Errorf("veth: the boxes saw the transfer: %+v -> %+v", before, after)
			}
		case "bridge":
			if !bridged || overlaid || !notTunnelled {
				t.Errorf("bridge: the allow rule's counters went %+v -> %+v", before, after)
			}
		case "vxlan":
			if !overlaid || bridged || after.vxlan-before.vxlan < n {
				t.Errorf("vxlan: counters %+v -> %+v; want the overlay rule and vxlan10 to carry %d bytes", before, after, n)
			}
		}
	}
}
