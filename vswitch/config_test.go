package vswitch

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
)

func TestFromConfig(t *testing.T) {
	c := &config.Config{
		Hostname: "nuc1",
		Uplink: config.Uplink{
			VLANs:     []int{10, 20},
			Addresses: []config.VLANAddress{{VLAN: 20, Address: "10.0.20.1/24"}},
		},
		VMs:        []config.VM{{Name: "ubuntu1", NICs: []config.NIC{{VLAN: 10}, {Trunk: []int{10, 20}, Native: 1, MAC: "02:00:00:00:00:01"}}}},
		Containers: []config.Container{{Name: "web", NICs: []config.NIC{{}}}},
	}
	d, err := FromConfig(c, "eno1")
	if err != nil {
		t.Fatal(err)
	}
	if b := d.Bridge; b.Name != "br0" || !b.VLANFiltering || b.NativeVLAN != 1 || b.MAC != nil {
		t.Errorf("bridge %+v", d.Bridge)
	}
	got := make([]string, len(d.Ports))
	for i, p := range d.Ports {
		got[i] = p.Name + " " + string(p.Kind) + " " + p.Label + " " + p.MAC.String() + " " + p.Peer + " " + fmtVLANs(p.VLANs())
	}
	want := []string{
		"eno1 external uplink   [1 pvid untagged 10 20]",
		"t-ubuntu1-0 tap vm/ubuntu1/0 " + config.DeriveMAC("nuc1", "ubuntu1", 0).String() + "  [10 pvid untagged]",
		"t-ubuntu1-1 tap vm/ubuntu1/1 02:00:00:00:00:01  [1 pvid untagged 10 20]",
		"v-web-0 veth ct/web/0 " + config.DeriveMAC("nuc1", "web", 0).String() + " p-web-0 [1 pvid untagged]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Addresses) != 1 || d.Addresses[0] != (VLANAddress{VLAN: 20, Prefix: netip.MustParsePrefix("10.0.20.1/24")}) {
		t.Errorf("addresses %+v", d.Addresses)
	}
	if want := "[1 pvid untagged 20]"; fmtVLANs(d.selfVLANs()) != want {
		t.Errorf("bridge VLANs %s, want %s", fmtVLANs(d.selfVLANs()), want)
	}

	c.VMs[0].NICs[0].MAC = "zz"
	c.Uplink.Addresses[0].Address = "10.0.20.1"
	if _, err := FromConfig(c, "eno1"); err == nil || !strings.Contains(err.Error(), "ubuntu1: NIC 0") || !strings.Contains(err.Error(), "VLAN 20") {
		t.Errorf("bad MAC and address: %v", err)
	}
}
