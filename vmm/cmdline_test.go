package vmm

import (
	"strings"
	"testing"
	"time"
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
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
	}
}

var noDisplay = []string{"-display", "none"}

// screen is the argv of a guest with a display whose VNC socket is sock.
func screen(sock string) []string {
	return []string{"-vnc", "unix:" + sock, "-device", "VGA", "-device", "qemu-xhci,id=usb", "-device", "usb-tablet,bus=usb.0"}
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// vm1 is guest vm1 in state dir /s with config's defaults, changed by
// edit.
func vm1(edit func(s *Spec)) Spec {
	s := Spec{Name: "vm1", StateDir: "/s", CPUs: 1, Memory: 1 << 30, Machine: "q35", AccelMode: "auto",
		Restart: "always", ShutdownTimeout: time.Minute}
	if edit != nil {
		edit(&s)
	}
	return s
}

func TestCmdline(t *testing.T) {
	base := head("tcg", "max", "1", "1024M")
	nic := func(tap, mac string) NIC { return NIC{TAP: tap, MAC: mustMAC(mac)} }
	qcow2 := func(path string) Disk { return Disk{Path: path, Format: "qcow2"} }
	for _, tc := range []struct {
		name  string
		vm    Spec
		accel Accel
		want  []string
	}{
		{
			name: "defaults",
			vm:   vm1(nil),
			want: cat(base, noDisplay),
		},
		{
			name:  "kvm uses the host CPU",
			vm:    vm1(func(s *Spec) { s.CPUs, s.Memory = 4, 2<<30 }),
			accel: KVM,
			want:  cat(head("kvm", "host", "4", "2048M"), noDisplay),
		},
		{
			name: "memory rounds up to MiB",
			vm:   vm1(func(s *Spec) { s.Memory = 512<<20 + 1 }),
			want: cat(head("tcg", "max", "1", "513M"), noDisplay),
		},
		{
			name: "machine type",
			vm:   vm1(func(s *Spec) { s.Machine = "pc-q35-7.2" }),
			want: cat(strings.Fields(strings.Replace(strings.Join(base, " "), "-machine q35", "-machine pc-q35-7.2", 1)), noDisplay),
		},
		{
			name: "vnc on the guest's unix socket, whatever the display number",
			vm:   vm1(func(s *Spec) { s.VNC = intp(3) }),
			want: cat(base, screen("/s/vms/vm1/screen/vnc.sock")),
		},
		{
			name: "vnc display 0 is a display too",
			vm:   vm1(func(s *Spec) { s.VNC = intp(0) }),
			want: cat(base, screen("/s/vms/vm1/screen/vnc.sock")),
		},
		{
			name: "vnc socket path with a comma is escaped",
			vm:   vm1(func(s *Spec) { s.StateDir, s.VNC = "/s,t", intp(1) }),
			want: cat(strings.Fields(strings.ReplaceAll(strings.Join(base, " "), "unix:/s/", "unix:/s,,t/")), screen("/s,,t/vms/vm1/screen/vnc.sock")),
		},
		{
			name: "direct kernel boot",
			vm: vm1(func(s *Spec) {
				s.Kernel, s.Initrd, s.Append = "/s/k/vmlinuz", "/boot/initrd.img", "console=ttyS0 root=/dev/vda1"
			}),
			want: cat(base, noDisplay, []string{"-kernel", "/s/k/vmlinuz", "-initrd", "/boot/initrd.img", "-append", "console=ttyS0 root=/dev/vda1"}),
		},
		{
			name: "disks: qcow2, raw, read-only; first disk boots first",
			vm: vm1(func(s *Spec) {
				s.Disks = []Disk{
					{Path: "/s/vm1.qcow2", Size: 1 << 30, Format: "qcow2"},
					{Path: "/data/scratch.img", Format: "raw"},
					{Path: "/s/base.qcow2", Format: "qcow2", ReadOnly: true},
				}
			}),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/vm1.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
				"-drive", "file=/data/scratch.img,format=raw,if=none,id=disk1,discard=unmap", "-device", "virtio-blk-pci,drive=disk1,bootindex=2",
				"-drive", "file=/s/base.qcow2,format=qcow2,if=none,id=disk2,discard=unmap,readonly=on", "-device", "virtio-blk-pci,drive=disk2,bootindex=3",
			}),
		},
		{
			name: "cdroms and the cloud-init seed on AHCI ports",
			vm: vm1(func(s *Spec) {
				s.CDROMs = []string{"/s/isos/installer.iso", "/s/drivers.iso"}
				s.CloudInit = &CloudInit{UserData: "#cloud-config\n"}
			}),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/isos/installer.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd0,bus=ide.0,bootindex=1",
				"-drive", "file=/s/drivers.iso,format=raw,if=none,id=cd1,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd1,bus=ide.1,bootindex=2",
				"-drive", "file=/s/vms/vm1/seed.iso,format=raw,if=none,id=seed,media=cdrom,readonly=on", "-device", "ide-cd,drive=seed,bus=ide.2",
			}),
		},
		{
			name: "installer: boot order dc puts the ISO before the empty disk",
			vm: vm1(func(s *Spec) {
				s.Boot, s.Disks, s.CDROMs = "dc", []Disk{{Path: "/s/vm1.qcow2", Size: 1 << 30, Format: "qcow2"}}, []string{"/s/installer.iso"}
			}),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/vm1.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=2",
				"-drive", "file=/s/installer.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on", "-device", "ide-cd,drive=cd0,bus=ide.0,bootindex=1",
			}),
		},
		{
			name: "nics on vswitch TAPs; no boot ROM unless booted from",
			vm: vm1(func(s *Spec) {
				s.NICs = []NIC{nic("t-vm1-0", "02:11:22:33:44:55"), nic("t-vm1-1", "02:11:22:33:44:66")}
				s.Disks = []Disk{qcow2("/s/d.qcow2")}
			}),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/d.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,romfile=",
				"-netdev", "tap,id=net1,ifname=t-vm1-1,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net1,mac=02:11:22:33:44:66,romfile=",
			}),
		},
		{
			name: "pxe: a guest with only NICs boots from the network",
			vm:   vm1(func(s *Spec) { s.NICs = []NIC{nic("t-vm1-0", "02:11:22:33:44:55")} }),
			want: cat(base, noDisplay, []string{
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,bootindex=1",
			}),
		},
		{
			name: "boot order nc",
			vm: vm1(func(s *Spec) {
				s.Boot, s.NICs, s.Disks = "nc", []NIC{nic("t-vm1-0", "02:11:22:33:44:55")}, []Disk{qcow2("/s/a"), qcow2("/s/b")}
			}),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/s/a,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=2",
				"-drive", "file=/s/b,format=qcow2,if=none,id=disk1,discard=unmap", "-device", "virtio-blk-pci,drive=disk1,bootindex=3",
				"-netdev", "tap,id=net0,ifname=t-vm1-0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=net0,mac=02:11:22:33:44:55,bootindex=1",
			}),
		},
		{
			name: "commas in paths are doubled",
			vm:   vm1(func(s *Spec) { s.Disks = []Disk{qcow2("/d/a,b.qcow2")} }),
			want: cat(base, noDisplay, []string{
				"-drive", "file=/d/a,,b.qcow2,format=qcow2,if=none,id=disk0,discard=unmap", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
			}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.vm
			s.Accel = tc.accel
			if s.Accel == "" {
				s.Accel = TCG
			}
			got, err := Cmdline(s)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("argv:\n%s\n\nwant:\n%s", g, w)
			}
			// Whatever else changes: VNC never listens on the network.
			for i, a := range got {
				if a == "-vnc" && (i+1 == len(got) || !strings.HasPrefix(got[i+1], "unix:")) {
					t.Errorf("VNC not on a unix socket: %q", got[i:])
				}
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
		{"unresolved accel", vm1(nil), "not resolved"},
		{"no name", Spec{Accel: TCG}, "no name"},
		{"missing TAP", vm1(func(s *Spec) { s.Accel, s.NICs = TCG, []NIC{{}} }), "nic 0: no TAP name"},
		{"bad MAC", vm1(func(s *Spec) { s.Accel, s.NICs = TCG, []NIC{{TAP: "t"}} }), "not a 6-byte"},
	} {
		if _, err := Cmdline(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}
