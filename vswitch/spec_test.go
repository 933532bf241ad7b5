package vswitch

import (
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// The uplink port is described once, without its link: WithUplink names
// it and puts it first; no name leaves it out.
func TestWithUplink(t *testing.T) {
	d := filteringDesired()
	d.Uplink, d.Ports = d.Ports[0], d.Ports[1:]
	d.Uplink.Name = ""
	got := d.WithUplink("eno1")
	if len(got.Ports) != 2 || got.Ports[0].Name != "eno1" || got.Ports[0].Kind != KindExternal ||
		!reflect.DeepEqual(got.Ports[0].Trunk, []int{10, 20}) || got.Ports[1].Name != "t-vm-0" {
		t.Errorf("ports %+v", got.Ports)
	}
	if len(d.Ports) != 1 {
		t.Errorf("WithUplink changed its receiver: %+v", d.Ports)
	}
	if got := d.WithUplink(""); len(got.Ports) != 1 {
		t.Errorf("no uplink: %+v", got.Ports)
	}
}

func TestVLANAddressLinks(t *testing.T) {
	d := filteringDesired()
	p := netip.MustParsePrefix
	d.Addresses = []VLANAddress{
		{VLAN: 20, Link: "vlan20", Prefix: p("10.0.20.1/24")},
		{VLAN: 20, Link: "other", Prefix: p("10.0.21.1/24")},
		{VLAN: 30, Prefix: p("10.0.30.1/24")},
		{VLAN: 40, Link: "t-vm-0", Prefix: p("10.0.40.1/24")},
	}
	err := d.Validate()
	for _, want := range []string{"addresses on two interfaces", `VLAN interface name ""`, "interface name t-vm-0 used twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// MACs are text in JSON, and read back.
func TestPortJSON(t *testing.T) {
	in := Desired{
		Bridge: Bridge{Name: "br0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, VLANFiltering: true},
		Ports:  []Port{{Name: "t-a-0", Kind: KindTAP, Label: "vm/a/0", MAC: guestMAC, VLAN: 10}, {Name: "eth0", Kind: KindExternal}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mac":"02:00:00:00:00:10"`) || !strings.Contains(string(b), `"mac":"02:00:00:00:00:09"`) {
		t.Errorf("JSON %s", b)
	}
	var out Desired
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("read back %+v, %v", out, err)
	}
}
