package vmm

import (
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
)

func intp(i int) *int { return &i }

// head is the argv every guest starts with, for VM "vm1" in state dir /s.
func head(accel, cpu, smp, mem string) []string {
	return []string{
		"-name", "guest=vm1,debug-threads=on",
		"-nodefaults", "-no-user-config",
		"-machine", "q35",
		"-accel", accel,
		"-cpu", cpu,
		"-smp", smp,
		"-m", mem,
		"-chardev", "stdio,id=serial0,signal=off",
		"-serial", "chardev:serial0",
		"-qmp", "unix:/s/vms/vm1/qmp.sock,server=on,wait=off",
		"-S",
	}
}

var noDisplay = []string{"-display", "none"}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestCmdline(t *testing.T) {
	base := head("tcg", "max", "1", "1024M")
	port := func(tap, mac string) Port { return Port{TAP: tap, MAC: mustMAC(mac)} }
	for _, tc := range []struct {
		name  string
		vm    config.VM
		accel Accel
		ports []Port
		want  []string
	}{
		{
			name: "defaults",
			vm:   config.VM{Name: "vm1"},
			want: cat(base, noDisplay),
		},
		{
			name:  "kvm uses the host CPU",
			vm:    config.VM{Name: "vm1", CPUs: 4, Memory: 2 << 30},
			accel: KVM,
			want:  cat(head("kvm", "host", "4", "2048M"), noDisplay),
		},
		{
			name: "memory rounds up to MiB",
			vm:   config.VM{Name: "vm1", Memory: 512<<20 + 1},
			want: cat(head("tcg", "max", "1", "513M"), noDisplay),
		},
		{
			name: "machine type",
			vm:   config.VM{Name: "vm1", Machine: "pc-q35-7.2"},
			want: cat(strings.Fields(strings.Replace(strings.Join(base, " "), "-machine q35", "-machine pc-q35-7.2", 1)), noDisplay),
		},
		{
			name: "vnc",
			vm:   config.VM{Name: "vm1", VNC: intp(3)},
			want: cat(base, []string{"-vnc", ":3", "-device", "VGA", "-device", "qemu-xhci,id=usb", "-device", "usb-tablet,bus=usb.0"}),
		},
		{
			name: "direct kernel boot, relative to the state dir",
			vm:   config.VM{Name: "vm1", Kernel: "k/vmlinuz", Initrd: "/boot/initrd.img", Append: "console=ttyS0 root=/dev/vda1"},
			want: cat(base, noDisplay, []string{"-kernel", "/s/k/vmlinuz", "-initrd", "/boot/initrd.img", "-append", "console=ttyS0 root=/dev/vda1"}),
		},
		{
			name: "disks: qcow2, raw, read-only; first disk boots first",
			vm: config.VM{Name: "vm1", Disks: []config.Disk{
				{Path: "vm1.qcow2", Size: 1 << 30},
				{Path: "/data/scratch.img", Format: "raw"},
				{Path: "base.qcow2", ReadOnly: true},
			}},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/vm1.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
				"-drive", "file=/data/scratch.img,format=raw,if=none,id=disk1,discard=unmap", "-device", "virtio-blk-pci,drive=disk1,bootindex=2",
				"-drive", "file=/s/base.qcow2,format=qcow2,if=none,id=disk2,discard=unmap,readonly=on", "-device", "virtio-blk-pci,drive=disk2,bootindex=3",
			}),
		},
		{
			name: "cdroms and the cloud-init seed on AHCI ports",
			vm: config.VM{Name: "vm1", CDROMs: []string{"isos/installer.iso", "drivers.iso"},
				CloudInit: &config.CloudInit{UserData: "#cloud-config\n"}},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/isos/installer.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd0,bus=ide.0,bootindex=1",
				"-drive", "file=/s/drivers.iso,format=raw,if=none,id=cd1,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd1,bus=ide.1,bootindex=2",
				"-drive", "file=/s/vms/vm1/seed.iso,format=raw,if=none,id=seed,media=cdrom,readonly=on", "-device", "ide-cd,drive=seed,bus=ide.2",
			}),
		},
		{
			name: "installer: boot order dc puts the ISO before the empty disk",
			vm: config.VM{Name: "vm1", Boot: "dc", Disks: []config.Disk{{Path: "vm1.qcow2", Size: 1 << 30}},
				CDROMs: []string{"installer.iso"}},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/vm1.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=2",
				"-drive", "file=/s/installer.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd0,bus=ide.0,bootindex=1",
			}),
		},
		{
			name: "nics on vswitch TAPs; no boot ROM unless booted from",
			vm:   config.VM{Name: "vm1", NICs: []config.NIC{{VLAN: 10}, {VLAN: 20}}, Disks: []config.Disk{{Path: "d.qcow2"}}},
			ports: []Port{
				port("t-vm1-0", "02:11:22:33:44:55"),
				port("t-vm1-1", "02:11:22:33:44:66"),
			},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/d.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,romfile=",
				"-netdev", "tap,id=net1,ifname=t-vm1-1,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net1,mac=02:11:22:33:44:66,romfile=",
			}),
		},
		{
			name:  "pxe: a guest with only NICs boots from the network",
			vm:    config.VM{Name: "vm1", NICs: []config.NIC{{VLAN: 10}}},
			ports: []Port{port("t-vm1-0", "02:11:22:33:44:55")},
			want: cat(base, noDisplay, []string{
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,bootindex=1",
			}),
		},
		{
			name:  "boot order nc",
			vm:    config.VM{Name: "vm1", Boot: "nc", NICs: []config.NIC{{}}, Disks: []config.Disk{{Path: "a"}, {Path: "b"}}},
			ports: []Port{port("t-vm1-0", "02:11:22:33:44:55")},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/a,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=2",
				"-drive", "file=/s/b,format=qcow2,if=none,id=disk1,discard=unmap", "-device", "virtio-blk-pci,drive=disk1,bootindex=3",
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,bootindex=1",
			}),
		},
		{
			name: "commas in paths are doubled",
			vm:   config.VM{Name: "vm1", Disks: []config.Disk{{Path: "/d/a,b.qcow2"}}},
			want: cat(base, noDisplay, []string{
				"-drive", "file=/d/a,,b.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
			}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accel := tc.accel
			if accel == "" {
				accel = TCG
			}
			got, err := Cmdline(Spec{VM: tc.vm, StateDir: "/s", Ports: tc.ports, Accel: accel})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("argv:\n%s\n\nwant:\n%s", g, w)
			}
		})
	}
}

func TestCmdlineErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Spec
		want string
	}{
		{"unresolved accel", Spec{VM: config.VM{Name: "vm1"}}, "not resolved"},
		{"no name", Spec{Accel: TCG}, "no name"},
		{"missing TAP", Spec{Accel: TCG, VM: config.VM{Name: "vm1", NICs: []config.NIC{{}}}}, "1 NICs configured but 0 TAPs"},
		{"bad MAC", Spec{Accel: TCG, VM: config.VM{Name: "vm1", NICs: []config.NIC{{}}}, Ports: []Port{{TAP: "t"}}}, "not a 6-byte"},
	} {
		if _, err := Cmdline(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPortsFor(t *testing.T) {
	vm := config.VM{Name: "ubuntu1", NICs: []config.NIC{{VLAN: 10}, {MAC: "52:54:00:AB:CD:EF"}}}
	ports, err := PortsFor("nuc1", vm)
	if err != nil {
		t.Fatal(err)
	}
	if ports[0].TAP != config.TAPName("ubuntu1", 0) || ports[1].TAP != config.TAPName("ubuntu1", 1) {
		t.Errorf("TAPs %q %q", ports[0].TAP, ports[1].TAP)
	}
	if ports[0].MAC.String() != config.DeriveMAC("nuc1", "ubuntu1", 0).String() {
		t.Errorf("derived MAC %s", ports[0].MAC)
	}
	if ports[1].MAC.String() != "52:54:00:ab:cd:ef" {
		t.Errorf("configured MAC %s", ports[1].MAC)
	}
	vm.NICs[1].MAC = "nope"
	if _, err := PortsFor("nuc1", vm); err == nil {
		t.Error("bad MAC accepted")
	}
}
