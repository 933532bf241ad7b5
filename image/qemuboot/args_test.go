package qemuboot

import (
	"net/netip"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	kernel := Options{Kernel: "k", Initramfs: "i", Cmdline: "console=ttyS0", Accel: "tcg", MemoryMiB: 2048, CPUs: 2,
		Forward: []Forward{{Host: "127.0.0.1:40000", GuestPort: 8443}}}
	usb := Options{Disk: "nucbox.img", EFIVars: "vars.fd", Accel: "kvm", MemoryMiB: 1024, CPUs: 1}
	tests := []struct {
		name    string
		o       Options
		want    []string // each must appear, in this order
		absent  []string
		wantErr string
	}{
		{name: "kernel", o: kernel, want: []string{
			"-accel tcg -cpu max -machine q35 -m 2048 -smp 2 -nographic",
			"-kernel k -initrd i -append console=ttyS0",
			"-netdev user,id=uplink,hostfwd=tcp:127.0.0.1:40000-:8443 -device virtio-net-pci,netdev=uplink",
		}, absent: []string{"pflash", "-no-reboot"}},
		{name: "usb under OVMF", o: usb, want: []string{
			"-accel kvm -cpu host",
			"-drive if=pflash,format=raw,unit=0,readonly=on,file=" + OVMFCode,
			"-drive if=pflash,format=raw,unit=1,file=vars.fd",
			"-drive if=none,id=stick,format=raw,file=nucbox.img -device usb-storage,bus=xhci.0,drive=stick,bootindex=1",
			"-netdev user,id=uplink -device",
		}, absent: []string{"-kernel"}},
		{name: "unattended", o: func() Options { o := kernel; o.Unattended = true; return o }(), want: []string{
			"-nographic -nodefaults -serial stdio -no-reboot -device virtio-rng-pci",
		}},
		{name: "both", o: func() Options { o := kernel; o.Disk = "d"; return o }(), wantErr: "not both or neither"},
		{name: "neither", o: Options{Accel: "tcg", MemoryMiB: 512, CPUs: 1}, wantErr: "not both or neither"},
		{name: "no initramfs", o: func() Options { o := kernel; o.Initramfs = ""; return o }(), wantErr: "needs the initramfs"},
		{name: "no vars", o: func() Options { o := usb; o.EFIVars = ""; return o }(), wantErr: "variable store"},
		{name: "accel", o: func() Options { o := kernel; o.Accel = "hvf"; return o }(), wantErr: `accelerator "hvf"`},
		{name: "memory", o: func() Options { o := kernel; o.MemoryMiB = 64; return o }(), wantErr: "at least 256"},
		{name: "cpus", o: func() Options { o := kernel; o.CPUs = 0; return o }(), wantErr: "cpus 0"},
		{name: "bad forward", o: func() Options { o := kernel; o.Forward = []Forward{{Host: "40000", GuestPort: 1}}; return o }(), wantErr: `forward "40000"`},
		{name: "mac", o: func() Options { o := kernel; o.MAC = "52:54:00:AA:BB:CC"; return o }(), want: []string{"-device virtio-net-pci,netdev=uplink,mac=52:54:00:aa:bb:cc"}},
		{name: "bad mac", o: func() Options { o := kernel; o.MAC = "52:54:00"; return o }(), wantErr: `MAC "52:54:00"`},
		{name: "guest port", o: func() Options { o := kernel; o.Forward = []Forward{{Host: "127.0.0.1:1", GuestPort: 70000}}; return o }(), wantErr: "guest port 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Args(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Args: err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Join(a, " ")
			at := 0
			for _, w := range tt.want {
				i := strings.Index(line[at:], w)
				if i < 0 {
					t.Fatalf("%q not found (in order) in\n%s", w, line)
				}
				at += i + len(w)
			}
			for _, w := range tt.absent {
				if strings.Contains(line, w) {
					t.Errorf("%q in %s", w, line)
				}
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	a, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, "127.0.0.1:") || strings.HasSuffix(a, ":0") {
		t.Fatalf("FreePort = %q", a)
	}
}

func TestArgsWithLab(t *testing.T) {
	lab, err := StartLab([]LabHost{{VLAN: 30, Addr: netip.MustParseAddr("10.0.30.5")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	go lab.Serve()
	defer lab.Close()
	a, err := Args(Options{Kernel: "k", Initramfs: "i", Accel: "tcg", MemoryMiB: 512, CPUs: 1, Lab: lab})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(a, " ")
	for _, want := range []string{
		"-netdev user,id=uplink -netdev hubport,id=hub-user,hubid=0,netdev=uplink",
		"-netdev dgram,id=lab,local.type=unix,local.path=" + lab.qemu + ",remote.type=unix,remote.path=" + lab.conn.LocalAddr().String(),
		"-netdev hubport,id=hub-lab,hubid=0,netdev=lab",
		"-netdev hubport,id=hub-nic,hubid=0 -device virtio-net-pci,netdev=hub-nic",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("%q not in %s", want, line)
		}
	}
	if strings.Contains(line, "netdev=uplink -device") {
		t.Errorf("the NIC is on the user network directly: %s", line)
	}
}

func TestMACFor(t *testing.T) {
	a, b := MACFor("lab-a"), MACFor("lab-b")
	if a == b || a != MACFor("lab-a") || !strings.HasPrefix(a, "52:54:00:") {
		t.Errorf("MACFor: %s, %s", a, b)
	}
}
