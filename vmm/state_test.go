package vmm

import "testing"

func TestPathsFor(t *testing.T) {
	p := PathsFor("/data/nucbox", "ubuntu1")
	want := Paths{
		Dir:     "/data/nucbox/vms/ubuntu1",
		Seed:    "/data/nucbox/vms/ubuntu1/seed.iso",
		Serial:  "/data/nucbox/vms/ubuntu1/serial.log",
		QEMULog: "/data/nucbox/vms/ubuntu1/qemu.log",
		QMP:     "/data/nucbox/vms/ubuntu1/qmp.sock",
		PID:     "/data/nucbox/vms/ubuntu1/pid",
	}
	if p != want {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	if d := PathsFor("", "x").Dir; d != "/var/lib/nucbox/vms/x" {
		t.Errorf("default state dir: %s", d)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ dir, in, want string }{
		{"/s", "disk.qcow2", "/s/disk.qcow2"},
		{"/s", "images/../disk.qcow2", "/s/disk.qcow2"},
		{"/s", "/abs//x.iso", "/abs/x.iso"},
		{"", "d", "/var/lib/nucbox/d"},
		{"/s", "", ""},
	} {
		if got := Resolve(tc.dir, tc.in); got != tc.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", tc.dir, tc.in, got, tc.want)
		}
	}
}
