package policy

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// lab is a bridge br0 in box with three workloads on veths: a
// (10.0.0.2, the port under policy, v-a-0), b (10.0.0.3, serving TCP 22,
// 80 and a bulk sender on 5001, v-b-0) and m (v-m-0, a mirror's target).
type lab struct {
	box, a, b, m *netnstest.NS
	macA         net.HardwareAddr
}

func newLab(t *testing.T) *lab {
	l := &lab{box: netnstest.New(t, "box"), a: netnstest.New(t, "a"), b: netnstest.New(t, "b"), m: netnstest.New(t, "m")}
	if err := l.box.H.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	br := l.box.Link(t, "br0")
	for _, w := range []struct {
		ns   *netnstest.NS
		port string
		addr string
	}{{l.a, "v-a-0", "10.0.0.2/24"}, {l.b, "v-b-0", "10.0.0.3/24"}, {l.m, "v-m-0", ""}} {
		netnstest.Veth(t, l.box, w.port, w.ns, "eth0", true)
		if err := l.box.H.LinkSetMaster(l.box.Link(t, w.port), br); err != nil {
			t.Fatal(err)
		}
		l.box.Up(t, w.port)
		if w.addr != "" {
			w.ns.AddAddr(t, "eth0", w.addr)
		}
	}
	l.box.Up(t, "br0")
	l.box.WaitOperUp(t, "v-a-0", "v-b-0", "v-m-0")
	l.macA = l.a.Link(t, "eth0").Attrs().HardwareAddr
	for _, port := range []int{22, 80} {
		listen(t, l.b, port, func(c net.Conn) {})
	}
	// a serves 23 (denied to it by an in rule) and 24.
	for _, port := range []int{23, 24} {
		listen(t, l.a, port, func(c net.Conn) {})
	}
	// 5001 sends 4 MB to whoever connects; 5002 swallows what comes.
	listen(t, l.b, 5001, func(c net.Conn) { _, _ = c.Write(make([]byte, 4<<20)) })
	listen(t, l.b, 5002, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
		_, _ = c.Write([]byte{1})
	})
	return l
}

func listen(t *testing.T, n *netnstest.NS, port int, serve func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := n.Namespace().Do(func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
}

func dial(n *netnstest.NS, from, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Namespace().Do(func() (err error) {
		d := net.Dialer{Timeout: 500 * time.Millisecond}
		if from != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		}
		c, err = d.Dial("tcp4", addr)
		return err
	})
	return c, err
}

func connects(n *netnstest.NS, from, addr string) bool {
	c, err := dial(n, from, addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// flushNeigh forgets b's and a's neighbours, so that the next connection
// resolves the peer again from whatever MAC it now has.
func flushNeigh(t *testing.T, ns ...*netnstest.NS) {
	t.Helper()
	for _, n := range ns {
		neighs, err := n.H.NeighList(n.Link(t, "eth0").Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range neighs {
			_ = n.H.NeighDel(&x)
		}
	}
}

func (l *lab) spec(rate uint64) Spec {
	return Spec{
		Ports: []Port{{
			Link: "v-a-0", Name: "a.0", MAC: l.macA.String(), IPv4: netip.MustParseAddr("10.0.0.2"),
			SpoofGuard: true, BPDUGuard: true, RAGuard: true, Rate: rate,
			Rules: []Rule{{Allow: false, Proto: "tcp", Port: 22}, {Allow: false, In: true, Proto: "tcp", Port: 23}},
		}},
		Mirrors: []Mirror{{From: []string{"v-b-0"}, To: "v-m-0"}},
	}
}

func TestPortPolicyInNamespace(t *testing.T) {
	l := newLab(t)
	ns := l.box.Namespace()
	// Before any policy both ports answer: the negative checks below
	// fail for the policy, not for the lab.
	if !connects(l.a, "", "10.0.0.3:22") || !connects(l.a, "", "10.0.0.3:80") || !connects(l.b, "", "10.0.0.2:23") {
		t.Fatal("without a policy a does not reach b's ports 22 and 80, or b a's 23")
	}
	const rate = 40_000_000
	st, err := Apply(ns, l.spec(rate))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rules:\n%s", strings.Join(st.Rules, "\n"))
	again, err := Apply(ns, l.spec(rate))
	if err != nil || again.Changes != 0 {
		t.Errorf("second apply: %d change(s), %v; want none", again.Changes, err)
	}

	t.Run("acl", func(t *testing.T) {
		if connects(l.a, "", "10.0.0.3:22") {
			t.Error("a reached b's denied port 22")
		}
		if !connects(l.a, "", "10.0.0.3:80") {
			t.Error("a did not reach b's allowed port 80")
		}
		// The in rule: what is delivered to a, by the port it leaves by.
		if connects(l.b, "", "10.0.0.2:23") {
			t.Error("b reached a's port 23, denied by a's in rule")
		}
		if !connects(l.b, "", "10.0.0.2:24") {
			t.Error("b did not reach a's port 24")
		}
	})

	// The same rules found by the hooks through verdict maps, as a box
	// with many policed ports has them: the table changes, and the deny
	// rules out and in and the spoof guard by address still hold.
	t.Run("map", func(t *testing.T) {
		was := mapFrom
		defer func() { mapFrom = was }()
		mapFrom = 1
		st, err := Apply(ns, l.spec(rate))
		if err != nil || st.Changes != 1 || !slices.Contains(st.Rules, `out-ports: "v-a-0" : jump out-v-a-0: sent by a.0`) {
			t.Fatalf("apply with maps: %d change(s), %v; rules:\n%s", st.Changes, err, strings.Join(st.Rules, "\n"))
		}
		if again, err := Apply(ns, l.spec(rate)); err != nil || again.Changes != 0 {
			t.Errorf("second apply with maps: %d change(s), %v; want none", again.Changes, err)
		}
		if connects(l.a, "", "10.0.0.3:22") || !connects(l.a, "", "10.0.0.3:80") {
			t.Error("with maps: a reached b's denied port 22, or not its port 80")
		}
		if connects(l.b, "", "10.0.0.2:23") || !connects(l.b, "", "10.0.0.2:24") {
			t.Error("with maps: b reached a's denied port 23, or not its port 24")
		}
		l.a.AddAddr(t, "eth0", "10.0.0.8/24")
		if connects(l.a, "10.0.0.8", "10.0.0.3:80") {
			t.Error("with maps: a reached b from an address that is not its own")
		}
		mapFrom = was
		if st, err := Apply(ns, l.spec(rate)); err != nil || st.Changes != 1 {
			t.Errorf("back to rules: %d change(s), %v; want the table replaced", st.Changes, err)
		}
	})

	t.Run("spoof", func(t *testing.T) {
		if !connects(l.a, "10.0.0.2", "10.0.0.3:80") {
			t.Fatal("a's own address does not reach b")
		}
		l.a.AddAddr(t, "eth0", "10.0.0.9/24")
		if connects(l.a, "10.0.0.9", "10.0.0.3:80") {
			t.Error("a reached b from an address that is not its own")
		}
		eth0 := l.a.Link(t, "eth0")
		fake, _ := net.ParseMAC("02:66:66:66:66:66")
		setMAC := func(m net.HardwareAddr) {
			if err := l.a.H.LinkSetHardwareAddr(eth0, m); err != nil {
				t.Fatal(err)
			}
			flushNeigh(t, l.a, l.b)
		}
		setMAC(fake)
		if connects(l.a, "10.0.0.2", "10.0.0.3:80") {
			t.Error("a reached b from a spoofed MAC")
		}
		setMAC(l.macA)
		if !connects(l.a, "10.0.0.2", "10.0.0.3:80") {
			t.Error("a's real MAC does not reach b after the spoofed one")
		}
		drops := uint64(0)
		cs, err := Counters(ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if strings.HasPrefix(c.Rule, "spoof-guard: ether saddr") {
				drops = c.Packets
			}
		}
		if drops == 0 {
			t.Errorf("the spoof guard's counter shows no drops: %+v", cs)
		}
	})

	// A change of rules is made in place: the port's link stays (the
	// workload keeps running), a connection open through it carries on,
	// and the new rule holds for new ones.
	t.Run("live", func(t *testing.T) {
		before := l.box.Link(t, "v-a-0").Attrs().Index
		open, err := dial(l.a, "", "10.0.0.3:5002")
		if err != nil {
			t.Fatal(err)
		}
		defer open.Close()
		if !connects(l.a, "", "10.0.0.3:80") {
			t.Fatal("a does not reach b's port 80 before the change")
		}
		sp := l.spec(rate)
		sp.Ports[0].Rules = append(sp.Ports[0].Rules, Rule{Proto: "tcp", Port: 80})
		st, err := Apply(ns, sp)
		if err != nil || st.Changes == 0 {
			t.Fatalf("apply of a new deny rule: %d change(s), %v", st.Changes, err)
		}
		if connects(l.a, "", "10.0.0.3:80") {
			t.Error("a reached b's port 80 after a deny rule for it was applied")
		}
		if _, err := open.Write([]byte("still here")); err != nil {
			t.Errorf("the open connection broke: %v", err)
		}
		if after := l.box.Link(t, "v-a-0").Attrs().Index; after != before {
			t.Errorf("v-a-0 was made anew (index %d, was %d)", after, before)
		}
		// A spec that fails changes nothing: a mirror onto a link
		// nucbox did not make is refused before the table is written.
		bad := l.spec(rate)
		bad.Mirrors = append(bad.Mirrors, Mirror{From: []string{"v-a-0"}, To: "br0", Create: true})
		if _, err := Apply(ns, bad); err == nil || !strings.Contains(err.Error(), "not created by nucbox") {
			t.Errorf("apply onto a foreign link: %v", err)
		}
		if connects(l.a, "", "10.0.0.3:80") {
			t.Error("the failed apply took the deny rule for port 80 away")
		}
		if _, err := Apply(ns, l.spec(rate)); err != nil {
			t.Fatal(err)
		}
		if !connects(l.a, "", "10.0.0.3:80") {
			t.Error("a does not reach b's port 80 after the rule was removed")
		}
	})

	// A BPDU from a is dropped and its source recorded in the port's
	// set; the port err-disabled passes nothing either way, and
	// enabled again passes what its rules allow.
	t.Run("bpdu", func(t *testing.T) {
		if src, err := BPDUSources(ns); err != nil || len(src) != 0 {
			t.Fatalf("BPDU sources before any BPDU: %v, %v", src, err)
		}
		// An 802.3 frame with the STP LLC header and a config BPDU's
		// first bytes.
		frame := append([]byte{0x01, 0x80, 0xc2, 0, 0, 0}, l.macA...)
		frame = append(frame, 0, 38, 0x42, 0x42, 0x03, 0, 0, 0, 0)
		frame = append(frame, make([]byte, 60-len(frame))...)
		sendFrame(t, l.a, "eth0", frame)
		var src map[string][]net.HardwareAddr
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if src, err = BPDUSources(ns); err != nil || len(src) > 0 {
				break
			}
		}
		if len(src["v-a-0"]) != 1 || src["v-a-0"][0].String() != l.macA.String() {
			t.Fatalf("BPDU sources %v, %v; want v-a-0 from %s", src, err, l.macA)
		}
		sp := l.spec(rate)
		sp.Ports[0].ErrDisabled = true
		if _, err := Apply(ns, sp); err != nil {
			t.Fatal(err)
		}
		if connects(l.a, "", "10.0.0.3:80") || connects(l.b, "", "10.0.0.2:24") {
			t.Error("the err-disabled port passed a connection")
		}
		if src, err := BPDUSources(ns); err != nil || len(src) != 0 {
			t.Errorf("BPDU sources after the table was replaced: %v, %v", src, err)
		}
		if _, err := Apply(ns, l.spec(rate)); err != nil {
			t.Fatal(err)
		}
		if !connects(l.a, "", "10.0.0.3:80") || !connects(l.b, "", "10.0.0.2:24") {
			t.Error("the port enabled again does not pass a connection")
		}
	})

	t.Run("rate", func(t *testing.T) {
		got, err := RateOf(l.box.H, "v-a-0")
		if err != nil || got != rate {
			t.Fatalf("tbf on v-a-0: %d bit/s, %v; want %d", got, err, rate)
		}
		// To a: shaped by the TBF on v-a-0.
		c, err := dial(l.a, "", "10.0.0.3:5001")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		down := float64(n*8) / time.Since(start).Seconds()
		// From a: policed by the table's limit.
		c, err = dial(l.a, "", "10.0.0.3:5002")
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		_, _ = c.Write(make([]byte, 4<<20))
		_ = c.(*net.TCPConn).CloseWrite()
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("from a: no answer at the end: %v", err)
		}
		c.Close()
		up := float64(4<<20*8) / time.Since(start).Seconds()
		t.Logf("limit %d Mbit/s: to a %.1f Mbit/s, from a %.1f Mbit/s", rate/1_000_000, down/1e6, up/1e6)
		if n != 4<<20 || down > rate*1.15 || down < rate*0.5 {
			t.Errorf("to a: %d bytes at %.1f Mbit/s; want 4 MiB within the limit", n, down/1e6)
		}
		if up > rate*1.15 || up < rate*0.5 {
			t.Errorf("from a: %.1f Mbit/s; want within the %d Mbit/s limit", up/1e6, rate/1_000_000)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		var seen atomic.Int64
		var h *pcapgo.EthernetHandle
		if err := l.m.Namespace().Do(func() (err error) {
			h, err = pcapgo.NewEthernetHandle("eth0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				data, _, err := h.ReadPacketData()
				if err != nil {
					return // closed
				}
				if strings.Contains(string(data), "mirror-me") {
					seen.Add(1)
				}
			}
		}()
		c, err := dial(l.a, "", "10.0.0.3:5002")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("mirror-me"))
		c.Close()
		deadline := time.Now().Add(2 * time.Second)
		for seen.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if seen.Load() == 0 {
			t.Error("m saw no copy of a's payload to b")
		}
		// Without the mirror m sees nothing of a's traffic: the bridge
		// has learnt b's MAC and does not flood to m.
		sp := l.spec(rate)
		sp.Mirrors = nil
		if _, err := Apply(ns, sp); err != nil {
			t.Fatal(err)
		}
		seen.Store(0)
		c, err = dial(l.a, "", "10.0.0.3:5002")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("mirror-me"))
		c.Close()
		time.Sleep(300 * time.Millisecond)
		if n := seen.Load(); n != 0 {
			t.Errorf("m saw %d copies after the mirror was removed", n)
		}
		h.Close()
		<-done
	})

	// The bridge's MAC table has learnt a's MAC on its port.
	fdb, err := vswitch.ReadFDB(l.box.H, "br0")
	if err != nil {
		t.Fatal(err)
	}
	learnt := false
	for _, e := range fdb {
		learnt = learnt || e.Port == "v-a-0" && e.MAC.String() == l.macA.String() && !e.Local
	}
	if !learnt {
		t.Errorf("MAC table without a's %s on v-a-0: %+v", l.macA, fdb)
	}

	// Removing every policy leaves no table, qdisc or filter behind.
	if _, err := Apply(ns, Spec{}); err != nil {
		t.Fatal(err)
	}
	if !connects(l.a, "", "10.0.0.3:22") {
		t.Error("with the policy removed a still cannot reach port 22")
	}
	if r, _ := RateOf(l.box.H, "v-a-0"); r != 0 {
		t.Errorf("tbf left on v-a-0: %d bit/s", r)
	}
	if _, err := l.box.H.LinkByName(IFBName("v-a-0")); err == nil {
		t.Errorf("%s left behind", IFBName("v-a-0"))
	}
}

// sendFrame sends a raw Ethernet frame out of link in n.
func sendFrame(t *testing.T, n *netnstest.NS, link string, frame []byte) {
	t.Helper()
	idx := n.Link(t, link).Attrs().Index
	if err := n.Namespace().Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: idx, Halen: 6})
	}); err != nil {
		t.Fatal(err)
	}
}
