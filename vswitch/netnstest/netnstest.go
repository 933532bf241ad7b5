// Package netnstest gives host-tier tests network namespaces of their own:
// a box, a LAN with a DHCP server, veths between them. Everything is
// removed when the test ends, also when it fails.
package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/test/syncbuf"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

const prefix = "nbt-"

// Require skips t unless it runs as root. Under CI (see package ci) it
// fails instead: a CI machine that cannot run these tests must not pass
// them by skipping.
func Require(t testing.TB) {
	t.Helper()
	ci.Require(t, os.Geteuid() == 0, "host-tier network tests need root")
}

// NS is a named network namespace made for one test.
type NS struct {
	Name string
	Path string
	// H is a netlink handle inside the namespace.
	H  *netlink.Handle
	ns *vswitch.Namespace
}

var seq atomic.Int64

// New makes a namespace with lo up, removed at the end of t.
func New(t testing.TB, tag string) *NS {
	t.Helper()
	Require(t)
	sweep()
	name := fmt.Sprintf("%s%d-%d-%s", prefix, os.Getpid(), seq.Add(1), tag)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- fmt.Errorf("return to the test's namespace: %w", serr)
			return // the thread stays locked and dies with the goroutine
		}
		orig.Close()
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("create network namespace %s: %v", name, err)
	}
	n := &NS{Name: name, Path: filepath.Join("/run/netns", name)}
	t.Cleanup(func() {
		if n.H != nil {
			n.H.Close()
		}
		if n.ns != nil {
			n.ns.Close()
		}
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	var err error
	if n.ns, err = vswitch.OpenNamespace(n.Path); err != nil {
		t.Fatal(err)
	}
	if n.H, err = n.ns.Netlink(); err != nil {
		t.Fatal(err)
	}
	lo, err := n.H.LinkByName("lo")
	if err == nil {
		err = n.H.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo in %s: %v", name, err)
	}
	return n
}

// sweep removes namespaces left by test processes that died without
// cleaning up.
func sweep() {
	matches, _ := filepath.Glob("/run/netns/" + prefix + "*")
	for _, m := range matches {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(m), prefix), "-", 2)
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = netns.DeleteNamed(filepath.Base(m))
		}
	}
}

// Namespace is the namespace as the product code takes it.
func (n *NS) Namespace() *vswitch.Namespace { return n.ns }

// Link returns the link called name, failing t if it is missing.
func (n *NS) Link(t testing.TB, name string) netlink.Link {
	t.Helper()
	l, err := n.H.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: link %s: %v", n.Name, name, err)
	}
	return l
}

// Veth connects a (link aName) and b (link bName). bUp sets b's end up;
// a's end stays down, as a NIC is at boot.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string, bUp bool) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: bName}, PeerName: aName, PeerNamespace: netlink.NsFd(a.ns.Handle())}
	if err := b.H.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s - %s/%s: %v", a.Name, aName, b.Name, bName, err)
	}
	if bUp {
		b.Up(t, bName)
	}
}

// Up sets a link up.
func (n *NS) Up(t testing.TB, name string) {
	t.Helper()
	if err := n.H.LinkSetUp(n.Link(t, name)); err != nil {
		t.Fatal(err)
	}
}

// WaitOperUp waits until each named link is operationally up. The kernel
// takes a carrier change in batches up to a second apart (linkwatch), and
// a bridge enables its port only then: a frame sent before that is lost,
// and a test that expects no answer would count the loss as its verdict.
func (n *NS) WaitOperUp(t testing.TB, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range names {
		for n.Link(t, name).Attrs().OperState != netlink.OperUp {
			if time.Now().After(deadline) {
				t.Fatalf("%s: link %s not up after 10s (operstate %s)", n.Name, name, n.Link(t, name).Attrs().OperState)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Down sets a link down.
func (n *NS) Down(t testing.TB, name string) {
	t.Helper()
	if err := n.H.LinkSetDown(n.Link(t, name)); err != nil {
		t.Fatal(err)
	}
}

// AddAddr adds an address such as 10.0.0.1/24 to a link.
func (n *NS) AddAddr(t testing.TB, name, cidr string) {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := n.H.AddrAdd(n.Link(t, name), a); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, name, err)
	}
}

// Addrs lists a link's IPv4 addresses of global scope.
func (n *NS) Addrs(t testing.TB, name string) []netip.Prefix {
	t.Helper()
	as, err := n.H.AddrList(n.Link(t, name), netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var ps []netip.Prefix
	for _, a := range as {
		if a.Scope != 0 {
			continue
		}
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		ps = append(ps, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return ps
}

// Proc is a process running in a test namespace.
type Proc struct {
	Cmd *exec.Cmd
	out *syncbuf.Buffer
}

// Output is what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitFor waits until the process prints s.
func (p *Proc) WaitFor(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v:\n%s", p.Cmd.Args[4], s, d, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the process and waits for it.
func (p *Proc) Stop() {
	_ = p.Cmd.Process.Kill()
	_ = p.Cmd.Wait()
}

// Start runs a command inside the namespace and kills it when t ends.
// Its output goes to t's log when the test fails.
func (n *NS) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command("/sbin/ip", append([]string{"netns", "exec", n.Name, name}, args...)...), out: &syncbuf.Buffer{}}
	p.Cmd.Stdout, p.Cmd.Stderr = p.out, p.out
	// Dies with the test binary even if that is killed before cleanup.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", name, n.Name, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	return p
}

// Spoke is one client of Star: a namespace cabled by a veth to the box's
// link Link, which has BoxAddr. The client's eth0 gets MAC and Addr when
// set, and a route to Route through the box when set.
type Spoke struct {
	Link, BoxAddr string
	MAC, Addr     string
	Route         string
}

// Star is a box namespace with one client namespace per spoke, each
// client's eth0 up and operationally up (so that a lost first frame is
// not taken for a server's silence): the setup of a server that must
// answer on one of the box's links and not on another.
func Star(t testing.TB, tag string, spokes ...Spoke) (box *NS, clients []*NS) {
	t.Helper()
	box = New(t, tag+"box")
	for _, s := range spokes {
		c := New(t, tag+s.Link)
		Veth(t, c, "eth0", box, s.Link, true)
		box.AddAddr(t, s.Link, s.BoxAddr)
		if s.MAC != "" {
			hw, err := net.ParseMAC(s.MAC)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.H.LinkSetHardwareAddr(c.Link(t, "eth0"), hw); err != nil {
				t.Fatal(err)
			}
		}
		c.Up(t, "eth0")
		c.WaitOperUp(t, "eth0")
		if s.Addr != "" {
			c.AddAddr(t, "eth0", s.Addr)
		}
		if s.Route != "" {
			dst := netip.MustParsePrefix(s.Route)
			gw := netip.MustParsePrefix(s.BoxAddr).Addr()
			if err := c.H.RouteAdd(&netlink.Route{LinkIndex: c.Link(t, "eth0").Attrs().Index,
				Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())}, Gw: gw.AsSlice()}); err != nil {
				t.Fatal(err)
			}
		}
		clients = append(clients, c)
	}
	return box, clients
}
