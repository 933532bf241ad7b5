package vmm

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testUser is a uid and gid no process of the test host has.
var testUser = &User{UID: 1<<30 + 4242, GID: 1<<30 + 4242}

// openDirs makes the test's temporary directories searchable by others,
// as the box's state directory is (Go makes them 0700).
func openDirs(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// A guest with a User runs QEMU as that uid and gid with no
// capabilities and no_new_privs, on a TAP and a QMP socket nucbox opened
// and passed in: the guest boots from its disk and seed (given to the
// user), its NIC is on the TAP, QMP answers, and the ACPI powerdown
// works. The same guest as root is the control: Uid 0 there.
func TestHostUnprivilegedQEMU(t *testing.T) {
	hostTier(t, true)
	ns := newTestNetns(t)
	s := tinySpec(t, "")
	openDirs(t, s.StateDir)
	s.NICs = []NIC{{TAP: "t-tiny-0", MAC: net.HardwareAddr{0x02, 0x6e, 0x75, 0x63, 0x00, 0x01}}}
	s.User = testUser
	tap := s.NICs[0].TAP
	// t-hot is the guest's user's, t-root root's: for NICs added over
	// QMP by name.
	for _, tt := range []struct {
		name  string
		owner uint32
	}{{tap, 0}, {"t-hot", testUser.UID}, {"t-root", 0}} {
		inNetns(t, ns, func() error {
			if err := netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: tt.name}, Mode: netlink.TUNTAP_MODE_TAP,
				Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR, Owner: tt.owner, Group: tt.owner}); err != nil {
				return err
			}
			l, err := netlink.LinkByName(tt.name)
			if err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		})
	}
	openTAP := func(name string) (f *os.File, err error) {
		inNetns(t, ns, func() error { f, err = OpenTAP(name); return nil })
		return f, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	carrierOf := func(tap string) bool {
		l, err := h.LinkByName(tap)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	}
	carrier := func() bool { return carrierOf(tap) }

	g := startGuest(t, s, Options{Procs: netnsProcs{ns}, OpenTAP: openTAP})
	pid := g.Status().PID
	st := procStatus(t, pid)
	t.Logf("QEMU pid %d: %s", pid, strings.Join(st, " "))
	want := fmt.Sprint(testUser.UID)
	for _, f := range []string{"Uid", "Gid"} {
		if got := field(st, f); len(strings.Fields(got)) != 4 || strings.Trim(strings.ReplaceAll(got, want, ""), " \t") != "" {
			t.Errorf("%s: %q, want %s four times (real, effective, saved, filesystem)", f, got, want)
		}
	}
	for _, f := range []string{"CapEff", "CapPrm", "CapAmb"} {
		if got := field(st, f); got != "0000000000000000" {
			t.Errorf("%s: %s, want none", f, got)
		}
	}
	if got := field(st, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs: %s, want 1", got)
	}
	if got := field(st, "Groups"); got != "" {
		t.Errorf("supplementary groups %q, want none", got)
	}
	if !carrier() {
		t.Error("the TAP has no carrier with QEMU on its descriptor")
	}
	var filters []struct {
		MainMAC string `json:"main-mac"`
	}
	if err := g.QMP(context.Background(), "query-rx-filter", nil, &filters); err != nil {
		t.Fatalf("QMP on the passed socket: %v", err)
	}
	if len(filters) != 1 || filters[0].MainMAC != s.NICs[0].MAC.String() {
		t.Errorf("guest NICs %+v, want one with MAC %s", filters, s.NICs[0].MAC)
	}
	waitSerial(t, g, guestUp)
	// A NIC's backend added by name over QMP: QEMU, unprivileged, opens
	// the TAP its user owns (/dev/net/tun is 0666, as on the box), and
	// not one root owns.
	hot := func(id, name string) error {
		return g.QMP(context.Background(), "netdev_add", map[string]any{"type": "tap", "id": id, "ifname": name, "script": "no", "downscript": "no"}, nil)
	}
	if err := hot("hot0", "t-hot"); err != nil {
		t.Errorf("netdev_add of the user's TAP: %v", err)
	} else if !carrierOf("t-hot") {
		t.Error("netdev_add of the user's TAP: no carrier")
	}
	if err := hot("hot1", "t-root"); err == nil || carrierOf("t-root") {
		t.Errorf("netdev_add of root's TAP by an unprivileged QEMU: %v, carrier %v; want refused", err, carrierOf("t-root"))
	} else {
		t.Logf("root's TAP refused: %v", err)
	}
	var fi syscallStat
	if fi = statOf(t, s.Disks[0].Path); fi.uid != testUser.UID || fi.gid != testUser.GID {
		t.Errorf("disk owned by %d:%d, want the VM's user", fi.uid, fi.gid)
	}
	if fi = statOf(t, s.Paths().Dir); fi.uid != 0 || fi.gid != testUser.GID || fi.mode&0o777 != 0o750 {
		t.Errorf("guest directory %d:%d %o, want root:%d 0750 (QEMU reads, never writes it)", fi.uid, fi.gid, fi.mode&0o777, testUser.GID)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); st.StoppedBy != "powerdown" {
		t.Errorf("stopped by %q, want the guest's own powerdown", st.StoppedBy)
	}
	if carrier() {
		t.Error("the TAP keeps its carrier after QEMU exited: nucbox holds its descriptor")
	}

	// A kernel the user cannot read is refused before QEMU starts, with
	// the file named.
	bad := s
	bad.Name, bad.NICs = "tiny2", nil
	k := filepath.Join(s.StateDir, "vmlinuz-private")
	b, err := os.ReadFile(s.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bad.Kernel = k
	g2 := NewGuest(bad, Options{Log: newTestLogger(t)})
	err = g2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kernel: "+k) || !strings.Contains(err.Error(), "not open to the VM's user") {
		g2.Stop(context.Background())
		t.Errorf("a kernel only root reads: %v", err)
	}

	// The control: without a User, QEMU is root.
	root := tinySpec(t, "")
	root.Name = "tiny3"
	g3 := startGuest(t, root, Options{})
	if got := field(procStatus(t, g3.Status().PID), "Uid"); !regexp.MustCompile(`^0\s+0\s+0\s+0$`).MatchString(got) {
		t.Errorf("QEMU without a User: Uid %q, want root", got)
	}
}

func procStatus(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

func field(status []string, name string) string {
	for _, l := range status {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "(missing)"
}

type syscallStat struct {
	uid, gid uint32
	mode     uint32
}

func statOf(t *testing.T, path string) syscallStat {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return syscallStat{uid: st.Uid, gid: st.Gid, mode: st.Mode}
}
