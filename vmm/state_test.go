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
		Screen:  "/data/nucbox/vms/ubuntu1/screen",
		VNC:     "/data/nucbox/vms/ubuntu1/screen/vnc.sock",
		PID:     "/data/nucbox/vms/ubuntu1/pid",
	}
	if p != want {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
}
