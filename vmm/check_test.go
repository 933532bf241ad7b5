package vmm

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validSpec is a complete guest spec that Check accepts.
func validSpec() Spec {
	return Spec{Name: "vm1", CPUs: 1, Memory: 1 << 30, Machine: "q35", AccelMode: "auto", Restart: "always",
		ShutdownTimeout: time.Minute, StateDir: "/s"}
}

func TestCheck(t *testing.T) {
	ok := validSpec()
	ok.Disks = []Disk{{Path: "/s/a.qcow2", Size: 1 << 30, Format: "qcow2"}}
	ok.CDROMs = []string{"/s/i.iso"}
	ok.NICs = []NIC{{TAP: "t-vm1-0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		IPv4: IPv4{Address: netip.MustParsePrefix("10.0.0.2/24"), Gateway: netip.MustParseAddr("10.0.0.1")}}}
	ok.Boot, ok.VNC = "dcn", intp(1)
	if errs := Check(ok); len(errs) != 0 {
		t.Fatalf("good VM: %v", errs)
	}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"accel", func(vm *Spec) { vm.AccelMode = "hvf" }, `accel "hvf"`},
		{"memory", func(vm *Spec) { vm.Memory = 1 << 20 }, "at least 16MiB"},
		{"cpus", func(vm *Spec) { vm.CPUs = 0 }, "cpus 0: must be at least 1"},
		{"machine", func(vm *Spec) { vm.Machine = "" }, "no machine type"},
		{"shutdown timeout", func(vm *Spec) { vm.ShutdownTimeout = 0 }, "shutdown-timeout must be positive"},
		{"disk format", func(vm *Spec) { vm.Disks[0].Format = "vmdk" }, `format "vmdk"`},
		{"raw with backing", func(vm *Spec) { vm.Disks[0].Format, vm.Disks[0].Backing = "raw", "/s/b.img" }, "raw disk cannot have a backing"},
		{"disk path", func(vm *Spec) { vm.Disks[0].Path = "" }, "disk 0: no path"},
		{"initrd without kernel", func(vm *Spec) { vm.Initrd = "/s/i" }, "need a kernel"},
		{"vnc range", func(vm *Spec) { vm.VNC = intp(100) }, "vnc display 100"},
		{"boot letter", func(vm *Spec) { vm.Boot = "a" }, "letters are c"},
		{"boot twice", func(vm *Spec) { vm.Boot = "cc" }, "c appears twice"},
		{"boot n without nics", func(vm *Spec) { vm.NICs = nil; vm.Boot = "n" }, "no NICs"},
		{"boot d without cdroms", func(vm *Spec) { vm.CDROMs = nil; vm.Boot = "d" }, "no CD-ROMs"},
		{"too many cdroms", func(vm *Spec) {
			vm.CDROMs = []string{"/1", "/2", "/3", "/4", "/5", "/6"}
			vm.CloudInit = &CloudInit{}
		}, "7 CD-ROMs"},
		{"multicast MAC", func(vm *Spec) { vm.NICs[0].MAC = net.HardwareAddr{1, 0, 0x5e, 0, 0, 1} }, "multicast"},
		{"bad MAC", func(vm *Spec) { vm.NICs[0].MAC = net.HardwareAddr{1, 2} }, "not an Ethernet address"},
		{"no TAP", func(vm *Spec) { vm.NICs[0].TAP = "" }, "no TAP name"},
		{"gateway outside", func(vm *Spec) { vm.NICs[0].IPv4.Gateway = netip.MustParseAddr("10.1.0.1") }, "outside 10.0.0.0/24"},
		{"meta-data", func(vm *Spec) { vm.CloudInit = &CloudInit{MetaData: "[1, 2]"} }, "meta-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := ok
			vm.Disks = append([]Disk(nil), ok.Disks...)
			vm.NICs = append([]NIC(nil), ok.NICs...)
			tc.edit(&vm)
			errs := Check(vm)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.want)
			}
			var ve *VMError
			if !errors.As(errs[0], &ve) || ve.VM != "vm1" || !strings.HasPrefix(errs[0].Error(), "vm vm1: ") {
				t.Errorf("error %q does not name its VM", errs[0])
			}
		})
	}
}

func TestCheckAll(t *testing.T) {
	spec := func(name string, disks ...Disk) Spec {
		s := validSpec()
		s.Name, s.VNC, s.Disks = name, intp(1), disks
		return s
	}
	vms := []Spec{
		spec("a", Disk{Path: "/s/shared.qcow2", Format: "qcow2"}, Disk{Path: "/s/base.img", Format: "raw", ReadOnly: true}),
		spec("b", Disk{Path: "/s/./shared.qcow2", Format: "qcow2"}, Disk{Path: "/s/base.img", Format: "raw", ReadOnly: true}),
		validSpec(),
	}
	vms[2].Name = "a"
	var got []string
	for _, err := range CheckAll(vms) {
		got = append(got, err.Error())
	}
	want := []string{
		"vm b: disk /s/./shared.qcow2 is also written by vm a",
		"vm a: name used by another VM",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"present.qcow2", "base.img", "k", "i.iso"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	p := func(name string) string { return filepath.Join(dir, name) }
	s := validSpec()
	s.StateDir, s.Memory, s.VNC = dir, 4<<30, intp(7)
	s.Disks = []Disk{
		{Path: p("present.qcow2")},
		{Path: p("new.qcow2"), Size: 1 << 30},
		{Path: p("overlay.qcow2"), Backing: p("base.img")},
		{Path: p("nosize.qcow2")},
		{Path: p("ro.img"), ReadOnly: true, Size: 1 << 20},
		{Path: p("o2.qcow2"), Backing: p("missing-base.img")},
	}
	s.CDROMs = []string{p("i.iso"), p("gone.iso")}
	s.Kernel, s.Initrd = p("k"), p("adir")
	host := Host{MemTotal: 2 << 30}
	var got []string
	for _, err := range Preflight(s, host) {
		got = append(got, strings.ReplaceAll(err.Error(), dir, "$S"))
	}
	want := []string{
		"vm vm1: disk 3 ($S/nosize.qcow2): not found; give it a size (or a backing image) to create it",
		"vm vm1: disk 4 ($S/ro.img): not found, and read-only disks are not created",
		"vm vm1: disk 5 backing image $S/missing-base.img: not found",
		"vm vm1: cdrom 1 $S/gone.iso: not found",
		"vm vm1: initrd $S/adir: is a directory",
		"vm vm1: memory 4096 MiB is more than the box has (2048 MiB)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPreflightSocketPath(t *testing.T) {
	long := "/" + strings.Repeat("x", 100)
	s := validSpec()
	s.StateDir = long
	errs := Preflight(s, Host{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "longer than a unix socket allows") {
		t.Errorf("errors %v", errs)
	}
}
