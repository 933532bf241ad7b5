package containers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// testBox is a namespace standing in for the box's: a flat bridge br0
// (the host kernel has no VLAN filtering) that container NICs join.
func testBox(t *testing.T) (*netnstest.NS, *Network) {
	t.Helper()
	requireRoot(t)
	box := netnstest.New(t, "ctbox")
	sw, err := vswitch.Open(box.Namespace(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	br := vswitch.Bridge{Name: "br0"}
	if _, err := sw.EnsureBridge(context.Background(), br); err != nil {
		t.Fatal(err)
	}
	if err := sw.BringUp("br0"); err != nil {
		t.Fatal(err)
	}
	return box, &Network{Switch: sw, Host: box.Namespace(), Bridge: br, LeaseTimeout: 15 * time.Second}
}

// testNIC is NIC i of container ct as config/plan compiles it: a veth
// port with the host end, the peer and the MAC derived from the names.
func testNIC(ct string, i int, ipv4 IPv4) NIC {
	sum := sha256.Sum256([]byte(ct))
	id := hex.EncodeToString(sum[:3])
	return NIC{
		Port: vswitch.Port{Name: fmt.Sprintf("v-%s-%d", id, i), Kind: vswitch.KindVeth, Label: fmt.Sprintf("ct/%s/%d", ct, i),
			MAC: net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], byte(i)}, Peer: fmt.Sprintf("p-%s-%d", id, i), VLAN: 1},
		Name: fmt.Sprintf("eth%d", i),
		IPv4: ipv4,
	}
}

func TestStaticContainersReachEachOther(t *testing.T) {
	_, nw := testBox(t)
	r := newRuntime(t, nw)
	img, _ := pullBusybox(t, r)
	a := spec(ctName(t, "a"), Source{}, "sleep", "1000")
	a.NICs = []NIC{testNIC(a.Name, 0, IPv4{Address: netip.MustParsePrefix("10.77.0.2/24")})}
	b := spec(ctName(t, "b"), Source{}, "sh", "-c", "ip -o addr show eth0; ip link show eth0; ping -c 1 -W 3 10.77.0.2")
	b.NICs = []NIC{testNIC(b.Name, 0, IPv4{Address: netip.MustParsePrefix("10.77.0.3/24"), Gateway: netip.MustParseAddr("10.77.0.1")})}
	run(t, r, a, img)
	in, lg := run(t, r, b, img)
	if _, err := in.Wait(); err != nil {
		t.Fatalf("ping from b to a: %v\n%s", err, lg.Tail())
	}
	out := string(lg.Tail())
	mac := b.NICs[0].Port.MAC.String()
	for _, want := range []string{"10.77.0.3/24", mac, "1 packets received"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A second run, as the workload pool starts one after a kill, wires the
// NIC again.
func TestRunRewiresNIC(t *testing.T) {
	_, nw := testBox(t)
	r := newRuntime(t, nw)
	_, tr := pullBusybox(t, r)
	ct := spec(ctName(t, "rewire"), tr.source(t), "sh", "-c", "ip -o addr show eth0; exec sleep 1000")
	ct.Restart, ct.StopTimeout = "always", 200*time.Millisecond
	ct.NICs = []NIC{testNIC(ct.Name, 0, IPv4{Address: netip.MustParsePrefix("10.79.0.2/24")})}
	s := supervise(t, r, ct)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := s.Status()
	waitOutput(t, s.log, "10.79.0.2/24")
	if err := unix.Kill(first.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, "address after the second run", func(Status) bool {
		return strings.Count(string(s.Logs()), "10.79.0.2/24") == 2
	})
}

func TestDHCPLeaseInContainer(t *testing.T) {
	box, nw := testBox(t)
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		ci.Missing(t, "dnsmasq not installed (Debian package dnsmasq-base; make deps installs it)")
	}
	box.AddAddr(t, "br0", "10.78.0.1/24")
	dir := t.TempDir()
	dm := box.Start(t, bin,
		"--keep-in-foreground", "--log-facility=-", "--log-dhcp",
		"--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
		"--user=root", "--pid-file="+filepath.Join(dir, "pid"),
		"--interface=br0", "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
		"--dhcp-range=10.78.0.100,10.78.0.150,255.255.255.0,2m",
		"--dhcp-option=option:router,10.78.0.1",
		"--dhcp-option=option:dns-server,10.78.0.53",
		"--dhcp-option=option:domain-name,lab.test",
		// Renewal after 2 s, so the test sees one.
		"--dhcp-option=option:T1,2", "--dhcp-option=option:T2,4",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"))
	dm.WaitFor(t, "DHCP, IP range", 5*time.Second)

	r := newRuntime(t, nw)
	_, tr := pullBusybox(t, r)
	ct := spec(ctName(t, "dhcp"), tr.source(t), "sh", "-c", "ip -o addr show eth0; ip route; cat /etc/resolv.conf; exec sleep 1000")
	ct.Restart, ct.StopTimeout = "never", 200*time.Millisecond
	ct.NICs = []NIC{testNIC(ct.Name, 0, IPv4{DHCP: true})}
	s := supervise(t, r, ct)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, s, "running", func(st Status) bool { return st.State == StateRunning })
	if len(st.NICs) != 1 || st.NICs[0].DHCP == nil || !strings.HasPrefix(st.NICs[0].Address, "10.78.0.1") {
		t.Fatalf("NICs %+v", st.NICs)
	}
	addr := st.NICs[0].Address
	// The process ran after the lease was applied.
	waitOutput(t, s.log, "nameserver 10.78.0.53")
	out := string(s.Logs())
	for _, want := range []string{addr, "default via 10.78.0.1", "search lab.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	renewed := waitStatusFor(t, s, 10*time.Second, "renewal", func(st Status) bool {
		return len(st.NICs) == 1 && st.NICs[0].DHCP != nil && st.NICs[0].DHCP.Renewals >= 1
	})
	if renewed.NICs[0].Address != addr {
		t.Errorf("address changed on renewal: %s -> %s", addr, renewed.NICs[0].Address)
	}
}

func waitStatusFor(t testing.TB, s *Supervisor, d time.Duration, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := s.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v\nlog:\n%s", what, st, s.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
