package harness

import (
	"reflect"
	"strings"
	"testing"
)

// base is what every machine gets; the table lists only what each case
// adds after it.
var base = []string{
	"-accel", "tcg", "-cpu", "max", "-machine", "q35", "-m", "1024", "-smp", "1",
	"-nographic", "-nodefaults", "-serial", "stdio", "-S",
	"-qmp", "unix:/s/qmp,server=on,wait=off", "-device", "virtio-rng-pci",
	"-no-reboot",
}

func TestQemuArgs(t *testing.T) {
	seg := &Segment{hubPath: "/seg/hub"}
	tests := []struct {
		name string
		o    Options
		want []string // after base, or the whole line when replaced
		base []string // replaces base when set
	}{
		{
			name: "no NIC is no NIC, not QEMU's default one",
			want: []string{"-nic", "none"},
		},
		{
			name: "direct kernel boot gets console and panic",
			o:    Options{Kernel: "/k", Initramfs: "/i", Append: "nucbox.config=/c.yaml"},
			want: []string{"-kernel", "/k", "-initrd", "/i",
				"-append", "console=ttyS0 panic=-1 nucbox.config=/c.yaml", "-nic", "none"},
		},
		{
			name: "user settings of console and panic are kept",
			o:    Options{Kernel: "/k", Append: "console=tty0 panic=5"},
			want: []string{"-kernel", "/k", "-append", "console=tty0 panic=5", "-nic", "none"},
		},
		{
			name: "reboot allowed",
			o:    Options{AllowReboot: true},
			base: base[:len(base)-1],
		},
		{
			name: "no RDRAND and no virtio-rng: the guest has no hardware entropy",
			o:    Options{CPU: "qemu64", NoRNG: true},
			base: []string{"-accel", "tcg", "-cpu", "qemu64", "-machine", "q35", "-m", "1024", "-smp", "1",
				"-nographic", "-nodefaults", "-serial", "stdio", "-S",
				"-qmp", "unix:/s/qmp,server=on,wait=off", "-no-reboot"},
		},
		{
			name: "size and machine",
			o:    Options{MemoryMiB: 2048, CPUs: 2, Machine: "pc", Extra: []string{"-x"}},
			base: []string{"-accel", "tcg", "-cpu", "max", "-machine", "pc", "-m", "2048", "-smp", "2"},
		},
		{
			name: "user network with forwards, tftp, mac and model",
			o: Options{NICs: []NIC{{
				Model: "e1000", MAC: "52:54:00:12:34:56",
				User: &UserNet{TFTP: "/tftp", BootFile: "boot.ipxe",
					Forward: []Forward{{Proto: "tcp", GuestPort: 443, HostPort: 20443}, {Proto: "udp", GuestPort: 53, HostPort: 20053}}},
			}}},
			want: []string{
				"-netdev", "user,tftp=/tftp,bootfile=boot.ipxe,hostfwd=tcp:127.0.0.1:20443-:443,hostfwd=udp:127.0.0.1:20053-:53,id=net0",
				"-device", "e1000,netdev=net0,mac=52:54:00:12:34:56",
			},
		},
		{
			name: "segment and raw netdev",
			o: Options{NICs: []NIC{
				{Segment: seg, segmentLocal: "/seg/1"},
				{Netdev: "socket,udp=127.0.0.1:1,localaddr=127.0.0.1:2"},
			}},
			want: []string{
				"-netdev", "dgram,local.type=unix,local.path=/seg/1,remote.type=unix,remote.path=/seg/hub,id=net0",
				"-device", "virtio-net-pci,netdev=net0",
				"-netdev", "socket,udp=127.0.0.1:1,localaddr=127.0.0.1:2,id=net1",
				"-device", "virtio-net-pci,netdev=net1",
			},
		},
		{
			name: "OVMF with disks on every bus and PXE first",
			o: Options{
				Firmware: OVMF, EFIVars: "/a/vars.fd", Boot: "n",
				Drives: []Drive{
					{Path: "/d/usb,stick.img", If: "usb", BootIndex: 1},
					{Path: "/d/data.qcow2", Format: "qcow2", Snapshot: true},
					{Path: "/d/ro.iso", If: "cdrom", ReadOnly: true},
					{Path: "/d/n.img", If: "nvme"},
					{Path: "/d/i.img", If: "ide"},
				},
			},
			want: []string{
				"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMFCode,
				"-drive", "if=pflash,format=raw,unit=1,file=/a/vars.fd",
				"-boot", "order=n",
				"-nic", "none",
				"-drive", "if=none,id=disk0,format=raw,file=/d/usb,,stick.img",
				"-device", "qemu-xhci,id=xhci",
				"-device", "usb-storage,bus=xhci.0,drive=disk0,bootindex=1",
				"-drive", "if=none,id=disk1,format=qcow2,file=/d/data.qcow2,snapshot=on",
				"-device", "virtio-blk-pci,drive=disk1",
				"-drive", "if=none,id=disk2,format=raw,file=/d/ro.iso,readonly=on",
				"-device", "ide-cd,drive=disk2",
				"-drive", "if=none,id=disk3,format=raw,file=/d/n.img",
				"-device", "nvme,serial=disk3,drive=disk3",
				"-drive", "if=none,id=disk4,format=raw,file=/d/i.img",
				"-device", "ide-hd,drive=disk4",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := qemuArgs(tt.o, "/s/qmp")
			if err != nil {
				t.Fatal(err)
			}
			if tt.base != nil {
				if !reflect.DeepEqual(got[:len(tt.base)], tt.base) {
					t.Errorf("got  %q\nwant %q...", got, tt.base)
				}
				if tt.o.Extra != nil && got[len(got)-1] != "-x" {
					t.Errorf("Extra not last: %q", got)
				}
				if strings.Contains(strings.Join(got, " "), "-no-reboot") == tt.o.AllowReboot {
					t.Errorf("-no-reboot with AllowReboot %v: %q", tt.o.AllowReboot, got)
				}
				return
			}
			want := append(append([]string(nil), base...), tt.want...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestQemuArgsErrors(t *testing.T) {
	seg := &Segment{hubPath: "/seg/hub"}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"initramfs without kernel", Options{Initramfs: "/i"}, "need Kernel"},
		{"two backends", Options{NICs: []NIC{{User: &UserNet{}, Netdev: "tap"}}}, "exactly one"},
		{"no backend", Options{NICs: []NIC{{}}}, "exactly one"},
		{"unresolved forward", Options{NICs: []NIC{{User: &UserNet{Forward: []Forward{{GuestPort: 1}}}}}}, "host port"},
		{"unattached segment", Options{NICs: []NIC{{Segment: seg}}}, "not attached"},
		{"OVMF without vars", Options{Firmware: OVMF}, "variable store"},
		{"drive without path", Options{Drives: []Drive{{}}}, "no path"},
		{"unknown bus", Options{Drives: []Drive{{Path: "/d", If: "scsi"}}}, "unknown interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := qemuArgs(tt.o, "/s/qmp")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	got := shellQuote([]string{"-append", "console=ttyS0 panic=-1", "it's", "-m", "512"})
	want := `-append 'console=ttyS0 panic=-1' 'it'\''s' -m 512`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestQemuArgsSecureBoot(t *testing.T) {
	got, err := qemuArgs(Options{Firmware: OVMFSecureBoot, EFIVars: "/a/vars.fd"}, "/s/qmp")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(got, " ")
	for _, want := range []string{
		"-machine q35,smm=on ",
		"-global driver=cfi.pflash01,property=secure,value=on",
		"file=" + OVMFSecureBootCode + " ",
		"unit=1,file=/a/vars.fd",
	} {
		if !strings.Contains(line+" ", want) {
			t.Errorf("no %q in %s", want, line)
		}
	}
	if strings.Contains(line, "file="+OVMFCode+" ") {
		t.Errorf("the plain OVMF build too: %s", line)
	}
}
