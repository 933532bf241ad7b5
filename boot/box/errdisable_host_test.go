package box

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/vswitch/netnstest"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// A BPDU from a workload port err-disables it: logged once with its
// source, shown, the port passes nothing while another port still does;
// nucbox port enable and the workload's restart each bring it back.
func TestErrDisableOnBPDU(t *testing.T) {
	box := netnstest.New(t, "box")
	if err := box.H.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	ws := map[string]*netnstest.NS{}
	for i, w := range []string{"a", "b", "c"} {
		ws[w] = netnstest.New(t, w)
		port := "v-" + w + "-0"
		netnstest.Veth(t, box, port, ws[w], "eth0", true)
		if err := box.H.LinkSetMaster(box.Link(t, port), box.Link(t, "br0")); err != nil {
			t.Fatal(err)
		}
		box.Up(t, port)
		ws[w].AddAddr(t, "eth0", fmt.Sprintf("10.0.0.%d/24", i+2))
	}
	box.Up(t, "br0")
	var ln net.Listener
	if err := ws["b"].Namespace().Do(func() (err error) {
		ln, err = net.Listen("tcp4", ":80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	reaches := func(w string) bool {
		var c net.Conn
		err := ws[w].Namespace().Do(func() (err error) {
			c, err = net.DialTimeout("tcp4", "10.0.0.3:80", 500*time.Millisecond)
			return err
		})
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	spec := policy.Spec{Ports: []policy.Port{
		{Link: "v-a-0", Name: "a.0", BPDUGuard: true}, {Link: "v-b-0", Name: "b.0", BPDUGuard: true}, {Link: "v-c-0", Name: "c.0", BPDUGuard: true}}}
	if _, err := policy.Apply(box.Namespace(), spec); err != nil {
		t.Fatal(err)
	}
	lg := &testLog{}
	n := &networkStage{log: logger{logf: lg.logf}, ns: box.Namespace(), policy: spec}
	pids := map[string]int{"a": 100, "b": 200, "c": 300}
	pid := func(w string) int { return pids[w] }

	n.checkGuards(pid)
	if d := n.errDisabledPorts(); len(d) != 0 || !reaches("a") || !reaches("c") {
		t.Fatalf("before any BPDU: disabled %v, or a or c does not reach b", d)
	}
	macA := ws["a"].Link(t, "eth0").Attrs().HardwareAddr
	bpdu := func() []api.ErrDisabledPort {
		frame := append([]byte{0x01, 0x80, 0xc2, 0, 0, 0}, macA...)
		frame = append(frame, 0, 38, 0x42, 0x42, 0x03, 0, 0, 0, 0)
		frame = append(frame, make([]byte, 60-len(frame))...)
		idx := ws["a"].Link(t, "eth0").Attrs().Index
		if err := ws["a"].Namespace().Do(func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: idx, Halen: 6})
		}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			n.checkGuards(pid)
			if d := n.errDisabledPorts(); len(d) > 0 {
				return d
			}
		}
		return nil
	}
	d := bpdu()
	if len(d) != 1 || d[0].Port != "a.0" || d[0].Link != "v-a-0" || d[0].Reason != "BPDU" || d[0].Source != macA.String() {
		t.Fatalf("err-disabled %+v; want a.0 by a BPDU from %s", d, macA)
	}
	n.checkGuards(pid)
	if reaches("a") {
		t.Error("a reached b through its err-disabled port")
	}
	if !reaches("c") {
		t.Error("c does not reach b while a's port is err-disabled")
	}
	if got := strings.Count(lg.String(), "err-disabled"); got != 1 || !strings.Contains(lg.String(), "port a.0 (v-a-0) err-disabled: a BPDU from "+macA.String()) {
		t.Errorf("log, want one err-disabled line for a.0:\n%s", lg)
	}

	if _, err := n.enablePort("z.0"); !errors.Is(err, api.ErrNoPort) {
		t.Errorf("enable of a port the box does not have: %v", err)
	}
	was, err := n.enablePort("a.0")
	if err != nil || was == nil || was.Source != macA.String() {
		t.Fatalf("enable a.0: %+v, %v", was, err)
	}
	if !reaches("a") {
		t.Error("a does not reach b after nucbox port enable")
	}
	if was, err := n.enablePort("a.0"); err != nil || was != nil {
		t.Errorf("enable of a forwarding port: %+v, %v; want nothing done", was, err)
	}

	// Err-disabled again, then the workload restarts.
	if d := bpdu(); len(d) != 1 {
		t.Fatalf("the second BPDU disabled %+v", d)
	}
	if reaches("a") {
		t.Error("a reached b after the second BPDU")
	}
	// A policy apply keeps the port disabled.
	if err := n.applyPolicy(spec, &NetworkSummary{}); err != nil {
		t.Fatal(err)
	}
	if reaches("a") {
		t.Error("an apply enabled the err-disabled port")
	}
	pids["a"] = 101
	n.checkGuards(pid)
	if d := n.errDisabledPorts(); len(d) != 0 || !reaches("a") {
		t.Errorf("after a's restart: disabled %+v, or a does not reach b", d)
	}
	if !strings.Contains(lg.String(), "port a.0 (v-a-0) enabled again: a restarted") {
		t.Errorf("log without the restart:\n%s", lg)
	}
}
