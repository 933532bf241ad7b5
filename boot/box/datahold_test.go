package box

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config"
)

const dataMount = "/var/lib/nucbox"

// damaged is a data partition that exists but was not mounted.
var damaged = &api.DataPartition{State: api.DataNotMounted, Device: "/dev/sda2", MountPoint: dataMount,
	Reason: "no usable superblock: not mounted, not formatted"}

// TestDataHoldDecision says which workloads a data partition holds, for
// each state it can be in: only a partition that exists and is not
// mounted holds anything, and then exactly the workloads with a file
// under its mount point.
func TestDataHoldDecision(t *testing.T) {
	mounted := &api.DataPartition{State: api.DataMounted, Device: "/dev/sda2", MountPoint: dataMount, FS: "ext4"}
	none := &api.DataPartition{State: api.DataNone, MountPoint: dataMount}
	elsewhere := "/srv/scratch"
	vm := func(name, stateDir string, edit func(*config.VM)) workloadCase {
		v := config.VM{Name: name}
		if edit != nil {
			edit(&v)
		}
		d := compiled(&config.Config{Hostname: "box", StateDir: stateDir, VMs: []config.VM{v}})
		return workloadCase{name: name, paths: vmPaths(d.VMs[0])}
	}
	ct := func(name, stateDir, image string, volumes ...string) workloadCase {
		c := config.Container{Name: name, Image: image}
		for _, v := range volumes {
			c.Volumes = append(c.Volumes, config.Volume{Source: v, Target: "/data"})
		}
		d := compiled(&config.Config{Hostname: "box", StateDir: stateDir, Containers: []config.Container{c}})
		return workloadCase{name: name, paths: ctPaths(d.Containers[0], d.StateDir)}
	}
	workloads := []workloadCase{
		// The default state directory is the data partition's mount
		// point: every VM's own files and every container's image
		// cache and writable layer are on it.
		vm("vm-default", "", nil),
		ct("ct-default", "", "nginx"),
		// With the state directory elsewhere, only what names a path
		// under the mount point needs it.
		vm("vm-scratch", elsewhere, func(v *config.VM) { v.Kernel, v.Initrd = "/usr/share/k", "images/initrd" }),
		vm("vm-disk", elsewhere, func(v *config.VM) { v.Disks = []config.Disk{{Path: dataMount + "/disks/a.qcow2"}} }),
		vm("vm-backing", elsewhere, func(v *config.VM) {
			v.Disks = []config.Disk{{Path: "a.qcow2", Size: config.GiB, Backing: dataMount + "/base.qcow2"}}
		}),
		vm("vm-iso", elsewhere, func(v *config.VM) { v.CDROMs = []string{dataMount + "/isos/x.iso"} }),
		vm("vm-kernel", elsewhere, func(v *config.VM) { v.Kernel = dataMount + "/vmlinuz" }),
		ct("ct-scratch", elsewhere, "oci-layout:/usr/share/busybox"),
		ct("ct-volume", elsewhere, "nginx", dataMount+"/keep"),
		ct("ct-layout", elsewhere, "oci-layout:"+dataMount+"/images/busybox"),
		// A sibling whose name starts with the mount point's is not on it.
		ct("ct-sibling", elsewhere, "nginx", dataMount+"er/keep"),
	}
	heldWhenDamaged := map[string]bool{
		"vm-default": true, "ct-default": true, "vm-disk": true, "vm-backing": true, "vm-iso": true,
		"vm-kernel": true, "ct-volume": true, "ct-layout": true,
	}
	for _, tc := range []struct {
		name string
		data *api.DataPartition
		held map[string]bool
	}{
		{"not known", nil, nil},
		{"no data partition", none, nil},
		{"mounted", mounted, nil},
		{"not mounted", damaged, heldWhenDamaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := holdFor(tc.data)
			for _, w := range workloads {
				why := h.check(w.paths)
				if (why != "") != tc.held[w.name] {
					t.Errorf("%s (files %q): hold %q, want held=%v", w.name, w.paths, why, tc.held[w.name])
				}
				if why != "" && (!strings.Contains(why, dataMount) || !strings.Contains(why, "/dev/sda2 is not mounted") ||
					!strings.Contains(why, tc.data.Reason)) {
					t.Errorf("%s: hold %q does not name the path, the partition and why", w.name, why)
				}
			}
		})
	}
}

type workloadCase struct {
	name  string
	paths []string
}

// TestDataHoldContainers: with the data partition not mounted, the
// container whose volume is on it is held, never made, shown held with
// the reason and refused a start, while the one that does not need it
// runs; with every container held, no runtime is made, so no image
// cache appears under the mount point.
func TestDataHoldContainers(t *testing.T) {
	ctx := context.Background()
	c, fr := newFakeContainers()
	c.hold = func() dataHold { return holdFor(damaged) }
	d := compiled(&config.Config{Hostname: "box", StateDir: "/srv/scratch", Containers: []config.Container{
		{Name: "keeper", Image: "oci-layout:/usr/share/busybox", Volumes: []config.Volume{{Source: dataMount + "/keep", Target: "/keep"}}},
		{Name: "scratch", Image: "oci-layout:/usr/share/busybox"},
	}})
	if err := c.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	if fr.count("keeper") != 0 || fr.runs("scratch") != 1 {
		t.Errorf("made keeper %d times, ran scratch %d times; want keeper held and scratch running", fr.count("keeper"), fr.runs("scratch"))
	}
	ws := c.Workloads()
	if len(ws) != 2 || ws[0].Name != "keeper" || !ws[0].Held || ws[0].State != "stopped" ||
		!strings.Contains(ws[0].LastError, dataMount+"/keep") || !strings.Contains(ws[0].LastError, "not mounted") {
		t.Fatalf("workloads %+v; want keeper stopped and held with the reason", ws)
	}
	if ws[1].State != "running" || ws[1].Held {
		t.Errorf("scratch %+v, want running", ws[1])
	}
	if _, err := c.control(ctx, "keeper", api.WorkloadStart); !errors.Is(err, api.ErrHeld) || !strings.Contains(err.Error(), "not mounted") {
		t.Errorf("start of the held keeper: %v; want refused with the reason", err)
	}
	if fr.count("keeper") != 0 {
		t.Error("a start request made the held container")
	}

	// The default state directory is on the data partition: every
	// container is held and the runtime, which would make the image
	// cache there, is not made.
	c, fr = newFakeContainers()
	c.hold = func() dataHold { return holdFor(damaged) }
	if err := c.Apply(ctx, compiled(&config.Config{Hostname: "box", Containers: []config.Container{{Name: "web", Image: "nginx"}}})); err != nil {
		t.Fatal(err)
	}
	if len(fr.opts) != 0 || fr.count("web") != 0 {
		t.Errorf("runtime made %d times (%+v), web made %d times; want neither", len(fr.opts), fr.opts, fr.count("web"))
	}
	if ws := c.Workloads(); len(ws) != 1 || !ws[0].Held {
		t.Errorf("workloads %+v; want web held", ws)
	}
}

// TestDataHoldVMs: a VM whose disk is on the unmounted data partition is
// held and never made; one that needs nothing there runs.
func TestDataHoldVMs(t *testing.T) {
	f := newFakeVMs()
	f.stage.hold = func() dataHold { return holdFor(damaged) }
	d := compiled(&config.Config{Hostname: "box", StateDir: "/srv/scratch", VMs: []config.VM{
		{Name: "web", Disks: []config.Disk{{Path: dataMount + "/web.qcow2"}}},
		{Name: "net", Kernel: "/usr/share/vmlinuz"},
	}})
	if err := f.stage.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if len(f.made["web"]) != 0 || f.runs("net") != 1 {
		t.Errorf("made web %d times, ran net %d times; want web held, net running", len(f.made["web"]), f.runs("net"))
	}
	var s Summary
	f.stage.Report(&s)
	if len(s.Guests) != 2 || s.Guests[0].State != string(workload.StateStopped) || !strings.Contains(s.Guests[0].Error, dataMount+"/web.qcow2") {
		t.Errorf("guests %+v; want web stopped with the reason", s.Guests)
	}
	if s.Guests[1].State != string(workload.StateRunning) {
		t.Errorf("guest net %+v, want running", s.Guests[1])
	}
}

// The API keeps its token and certificate in the state directory, except
// while that is on a data partition that is not mounted: then in /run,
// so that nothing is written under the mount point.
func TestCredentialsDir(t *testing.T) {
	mounted := &api.DataPartition{State: api.DataMounted, Device: "/dev/sda2", MountPoint: dataMount}
	for _, tc := range []struct {
		data           *api.DataPartition
		stateDir, want string
	}{
		{nil, dataMount, dataMount},
		{mounted, dataMount, dataMount},
		{damaged, dataMount, volatileCredentials},
		{damaged, dataMount + "/api", volatileCredentials},
		{damaged, "/srv/scratch", "/srv/scratch"},
	} {
		b := New(Options{Stages: []Stage{}})
		if tc.data != nil {
			d := tc.data
			b = New(Options{Stages: []Stage{}, Data: func() *api.DataPartition { return d }})
		}
		if got := b.credentialsDir(tc.stateDir); got != tc.want {
			t.Errorf("data %+v, state dir %s: credentials in %s, want %s", tc.data, tc.stateDir, got, tc.want)
		}
	}
}
