package vmm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
)

func TestCheck(t *testing.T) {
	ok := config.VM{Name: "vm1", Disks: []config.Disk{{Path: "a.qcow2", Size: 1 << 30}}, CDROMs: []string{"i.iso"},
		NICs: []config.NIC{{VLAN: 10, IPv4: config.IPv4{Address: "10.0.0.2/24", Gateway: "10.0.0.1"}}}, Boot: "dcn", VNC: intp(1)}
	if errs := Check(ok); len(errs) != 0 {
		t.Fatalf("good VM: %v", errs)
	}
	for _, tc := range []struct {
		name string
		edit func(*config.VM)
		want string
	}{
		{"accel", func(vm *config.VM) { vm.Accel = "hvf" }, `accel "hvf"`},
		{"restart", func(vm *config.VM) { vm.Restart = "sometimes" }, `restart "sometimes"`},
		{"memory", func(vm *config.VM) { vm.Memory = 1 << 20 }, "at least 16MiB"},
		{"disk format", func(vm *config.VM) { vm.Disks[0].Format = "vmdk" }, `format "vmdk"`},
		{"raw with backing", func(vm *config.VM) { vm.Disks[0].Format, vm.Disks[0].Backing = "raw", "b.img" }, "raw disk cannot have a backing"},
		{"disk path", func(vm *config.VM) { vm.Disks[0].Path = "" }, "disk 0: no path"},
		{"initrd without kernel", func(vm *config.VM) { vm.Initrd = "i" }, "need a kernel"},
		{"vnc range", func(vm *config.VM) { vm.VNC = intp(100) }, "vnc display 100"},
		{"boot letter", func(vm *config.VM) { vm.Boot = "a" }, "letters are c"},
		{"boot twice", func(vm *config.VM) { vm.Boot = "cc" }, "c appears twice"},
		{"boot n without nics", func(vm *config.VM) { vm.NICs = nil; vm.Boot = "n" }, "no NICs"},
		{"boot d without cdroms", func(vm *config.VM) { vm.CDROMs = nil; vm.Boot = "d" }, "no CD-ROMs"},
		{"too many cdroms", func(vm *config.VM) {
			vm.CDROMs = []string{"1", "2", "3", "4", "5", "6"}
			vm.CloudInit = &config.CloudInit{}
		}, "7 CD-ROMs"},
		{"multicast MAC", func(vm *config.VM) { vm.NICs[0].MAC = "01:00:5e:00:00:01" }, "multicast"},
		{"bad MAC", func(vm *config.VM) { vm.NICs[0].MAC = "zz" }, "not an Ethernet address"},
		{"gateway outside", func(vm *config.VM) { vm.NICs[0].IPv4.Gateway = "10.1.0.1" }, "outside 10.0.0.0/24"},
		{"meta-data", func(vm *config.VM) { vm.CloudInit = &config.CloudInit{MetaData: "[1, 2]"} }, "meta-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := ok
			vm.Disks = append([]config.Disk(nil), ok.Disks...)
			vm.NICs = append([]config.NIC(nil), ok.NICs...)
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
	vms := []config.VM{
		{Name: "a", VNC: intp(1), Disks: []config.Disk{{Path: "shared.qcow2"}, {Path: "base.img", ReadOnly: true}}},
		{Name: "b", VNC: intp(1), Disks: []config.Disk{{Path: "./shared.qcow2"}, {Path: "base.img", ReadOnly: true}}},
		{Name: "a"},
	}
	var got []string
	for _, err := range CheckAll(vms) {
		got = append(got, err.Error())
	}
	want := []string{
		"vm b: vnc display 1 (port 5901) is also used by vm a",
		"vm b: disk ./shared.qcow2 is also written by vm a",
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
	vm := config.VM{
		Name:   "vm1",
		Memory: 4 << 30,
		VNC:    intp(7),
		Disks: []config.Disk{
			{Path: "present.qcow2"},
			{Path: "new.qcow2", Size: 1 << 30},
			{Path: "overlay.qcow2", Backing: "base.img"},
			{Path: "nosize.qcow2"},
			{Path: "ro.img", ReadOnly: true, Size: 1 << 20},
			{Path: "o2.qcow2", Backing: "missing-base.img"},
		},
		CDROMs: []string{"i.iso", "gone.iso"},
		Kernel: "k",
		Initrd: "adir",
	}
	host := Host{MemTotal: 2 << 30, PortFree: func(p int) bool { return p != 5907 }}
	var got []string
	for _, err := range Preflight(Spec{VM: vm, StateDir: dir}, host) {
		got = append(got, strings.ReplaceAll(err.Error(), dir, "$S"))
	}
	want := []string{
		"vm vm1: disk 3 (nosize.qcow2): not found; give it a size (or a backing image) to create it",
		"vm vm1: disk 4 (ro.img): not found, and read-only disks are not created",
		"vm vm1: disk 5 backing image missing-base.img: not found ($S/missing-base.img)",
		"vm vm1: cdrom 1 gone.iso: not found ($S/gone.iso)",
		"vm vm1: initrd adir: is a directory",
		"vm vm1: memory 4096 MiB is more than the box has (2048 MiB)",
		"vm vm1: vnc display 7: port 5907 is in use",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPreflightSocketPath(t *testing.T) {
	long := "/" + strings.Repeat("x", 100)
	errs := Preflight(Spec{VM: config.VM{Name: "vm1"}, StateDir: long}, Host{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "longer than a unix socket allows") {
		t.Errorf("errors %v", errs)
	}
}
