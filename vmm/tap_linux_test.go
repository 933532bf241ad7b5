package vmm

import (
	"context"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsProcs starts children inside a network namespace: the thread that
// forks is moved into it for the fork only, and a child inherits the
// forking thread's namespace. It also shows the Procs hook at work.
type netnsProcs struct{ ns netns.NsHandle }

func (p netnsProcs) Start(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(p.ns); err != nil {
		return err
	}
	err = cmd.Start()
	if rerr := netns.Set(orig); rerr != nil {
		panic("cannot return to the test's network namespace: " + rerr.Error())
	}
	return err
}

func (netnsProcs) Wait(cmd *exec.Cmd) error { return cmd.Wait() }

// inNetns runs f on a thread inside ns.
func inNetns(t *testing.T, ns netns.NsHandle, f func() error) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		t.Fatal(err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		panic(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

func newTestNetns(t *testing.T) netns.NsHandle {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		panic(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// TestHostTAP attaches the tiny guest's virtio-net NIC to a persistent TAP
// made the way vswitch makes them, in a network namespace of the test.
func TestHostTAP(t *testing.T) {
	hostTier(t, true)
	ns := newTestNetns(t)
	s := tinySpec(t, "")
	s.Disks, s.CloudInit = nil, nil
	s.NICs = []NIC{{TAP: "t-tiny-0", MAC: net.HardwareAddr{0x02, 0x6e, 0x75, 0x63, 0x00, 0x01}}}
	// The guest is stopped before it boots, when it ignores ACPI.
	s.ShutdownTimeout = 500 * time.Millisecond
	tap := s.NICs[0].TAP
	inNetns(t, ns, func() error {
		err := netlink.LinkAdd(&netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: tap},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
		})
		if err != nil {
			return err
		}
		l, err := netlink.LinkByName(tap)
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lowerUp := func() bool {
		l, err := h.LinkByName(tap)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	}
	if lowerUp() {
		t.Fatal("TAP has carrier before QEMU attached")
	}

	g := startGuest(t, s, Options{Procs: netnsProcs{ns}})
	if !lowerUp() {
		t.Error("TAP has no carrier with QEMU attached")
	}
	var filters []struct {
		Name    string `json:"name"`
		MainMAC string `json:"main-mac"`
	}
	if err := g.QMP(context.Background(), "query-rx-filter", nil, &filters); err != nil {
		t.Fatal(err)
	}
	if len(filters) != 1 || filters[0].MainMAC != s.NICs[0].MAC.String() {
		t.Errorf("guest NICs %+v, want one with MAC %s", filters, s.NICs[0].MAC)
	}
	t.Logf("guest NIC %s on %s with MAC %s", filters[0].Name, tap, filters[0].MainMAC)
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lowerUp() {
		t.Error("TAP still has carrier after QEMU exited")
	}
}
