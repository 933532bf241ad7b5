package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/image"
)

// TestBakedConfig: what the image builder gets of a config is read and
// checked here, since the builder does not read configs itself.
func TestBakedConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vms := write("vms.yaml", `hostname: testbox
uplink:
  interface: auto
modules: [e1000e]
vms:
  - name: tiny
    memory: 128MiB
    kernel: images/vmlinuz
    initrd: images/tiny.cpio.gz
    disks:
      - {path: tiny.qcow2, size: 1GiB}
      - {path: data.raw, format: raw}
`)
	b, err := bakedConfig(vms, false)
	if err != nil {
		t.Fatal(err)
	}
	want := &image.Baked{Path: vms, Modules: []string{"e1000e"}, VMs: 1, GuestFiles: []image.GuestFile{
		{VM: "tiny", What: "kernel", Path: "/var/lib/nucbox/images/vmlinuz"},
		{VM: "tiny", What: "initrd", Path: "/var/lib/nucbox/images/tiny.cpio.gz"},
		{VM: "tiny", What: "disk", Path: "/var/lib/nucbox/data.raw"},
	}}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("baked:\n got %+v\nwant %+v", b, want)
	}

	// A bonded uplink and a gretap overlay bring their modules along.
	ov := write("overlay.yaml", "hostname: ov\nuplink: {interface: {bond: [eth0, eth1]}}\noverlays: [{vlan: 20, gretap: {remote: 10.0.0.2}}]\n")
	if b, err := bakedConfig(ov, false); err != nil {
		t.Errorf("overlay config: %v", err)
	} else if !reflect.DeepEqual(b.Modules, []string{"ip_gre", "bonding"}) {
		t.Errorf("overlay config: modules %v, want ip_gre and bonding", b.Modules)
	}

	// An invalid config is refused, nothing built; asked for, it is baked
	// as it is, with the reason.
	bad := write("invalid.yaml", "hostname: Not_A_Hostname\nno-such-field: 1\n")
	if _, err := bakedConfig(bad, false); err == nil || !strings.Contains(err.Error(), "invalid") || !strings.Contains(err.Error(), bad) {
		t.Errorf("invalid config: err = %v, want it refused, naming the file", err)
	}
	b, err = bakedConfig(bad, true)
	if err != nil || b.Invalid == "" || !strings.Contains(b.Invalid, "no-such-field") || b.Path != bad {
		t.Errorf("invalid config allowed: %+v, %v; want it baked with the reason", b, err)
	}
	if _, err := bakedConfig(filepath.Join(dir, "none.yaml"), true); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing config: err = %v", err)
	}
}
