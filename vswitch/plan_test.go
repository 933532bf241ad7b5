package vswitch

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var guestMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}

func filteringDesired() Desired {
	return Desired{
		Bridge: Bridge{Name: "br0", VLANFiltering: true, NativeVLAN: 1},
		Ports: []Port{
			{Name: "eth0", Kind: KindExternal, Label: "uplink", Trunk: []int{10, 20}, Native: 1},
			{Name: "t-vm-0", Kind: KindTAP, Label: "vm/vm/0", MAC: guestMAC, VLAN: 10},
		},
		Addresses: []VLANAddress{{VLAN: 20, Link: "vlan20", Prefix: netip.MustParsePrefix("10.0.20.1/24")}},
	}
}

// converged is the kernel state filteringDesired asks for.
func converged() observed {
	return observed{
		links: map[string]obsLink{
			"br0":    {Name: "br0", Kind: "bridge", Up: true, Alias: aliasBridge},
			"eth0":   {Name: "eth0", Kind: "device", Up: true, Master: "br0"},
			"t-vm-0": {Name: "t-vm-0", Kind: "tuntap", Up: true, Master: "br0", Alias: "nucbox:port:vm/vm/0", MAC: net.HardwareAddr{0xfe, 0, 0, 0, 0, 0x10}},
			"vlan20": {Name: "vlan20", Kind: "vlan", Up: true, Alias: "nucbox:vlan:20", VlanID: 20, Parent: "br0"},
			"lo":     {Name: "lo", Kind: "device", Up: true},
		},
		filtering: true,
		vlans: map[string][]VLAN{
			"br0":    {{ID: 1, PVID: true, Untagged: true}, {ID: 20}},
			"eth0":   {{ID: 1, PVID: true, Untagged: true}, {ID: 10}, {ID: 20}},
			"t-vm-0": {{ID: 10, PVID: true, Untagged: true}},
		},
		addrs: map[string][]netip.Prefix{"vlan20": {netip.MustParsePrefix("10.0.20.1/24")}},
	}
}

func steps(t *testing.T, d Desired, o observed) []string {
	t.Helper()
	acts, err := plan(d, o)
	if err != nil {
		t.Fatal(err)
	}
	var ss []string
	for _, a := range acts {
		ss = append(ss, a.String())
	}
	return ss
}

func TestPlanConvergedIsEmpty(t *testing.T) {
	if got := steps(t, filteringDesired(), converged()); len(got) != 0 {
		t.Errorf("plan for converged state = %q, want nothing", got)
	}
}

func TestPlanFromScratch(t *testing.T) {
	o := observed{links: map[string]obsLink{"eth0": {Name: "eth0", Kind: "device", Up: true}}}
	got := steps(t, filteringDesired(), o)
	want := []string{
		"create-bridge br0",
		"vlan-add br0 vid 1 pvid untagged self",
		"vlan-add br0 vid 20 self",
		"set-master eth0 br0",
		"vlan-add eth0 vid 1 pvid untagged",
		"vlan-add eth0 vid 10",
		"vlan-add eth0 vid 20",
		"create-tap t-vm-0",
		"set-master t-vm-0 br0",
		"vlan-add t-vm-0 vid 10 pvid untagged",
		"up t-vm-0",
		"up br0",
		"create-vlan-link vlan20 vid 20",
		"addr-add vlan20 10.0.20.1/24",
		"up vlan20",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

// The VLAN leak: a port must never be up on the bridge before its VLANs
// are right. Every new or re-enslaved port is up only after its VLAN steps.
func TestPlanPortUpOnlyAfterVLANs(t *testing.T) {
	o := converged()
	l := o.links["t-vm-0"]
	l.Master = "other"
	o.links["t-vm-0"] = l
	o.vlans["t-vm-0"] = []VLAN{{ID: 1, PVID: true, Untagged: true}}
	got := steps(t, filteringDesired(), o)
	want := []string{"down t-vm-0", "set-master t-vm-0 br0", "vlan-add t-vm-0 vid 10 pvid untagged", "up t-vm-0"}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

func TestPlanVLANChangeRemovesFirst(t *testing.T) {
	d := filteringDesired()
	d.Ports[1].VLAN = 30
	o := converged()
	o.vlans["t-vm-0"] = append(o.vlans["t-vm-0"], VLAN{ID: 1, PVID: false, Untagged: true})
	got := steps(t, d, o)
	want := []string{"vlan-del t-vm-0 vid 10 pvid untagged", "vlan-del t-vm-0 vid 1 untagged", "vlan-add t-vm-0 vid 30 pvid untagged"}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

func TestPlanRemovesDefaultVLANAndStalePorts(t *testing.T) {
	o := converged()
	o.defaultPVID = 1
	o.vlans["br0"] = append(o.vlans["br0"], VLAN{ID: 99})
	o.links["t-old-0"] = obsLink{Name: "t-old-0", Kind: "tuntap", Alias: "nucbox:port:vm/old/0", Master: "br0"}
	o.links["vlan30"] = obsLink{Name: "vlan30", Kind: "vlan", Alias: "nucbox:vlan:30", VlanID: 30, Parent: "br0"}
	o.links["foreign"] = obsLink{Name: "foreign", Kind: "tuntap", Master: "br0"}
	o.links["p-ct-0"] = obsLink{Name: "p-ct-0", Kind: "veth", Alias: "nucbox:peer:ct/ct/0"}
	got := steps(t, filteringDesired(), o)
	want := []string{"delete t-old-0", "delete vlan30", "set-default-pvid br0", "vlan-del br0 vid 99 self"}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

func TestPlanRefusesForeignLinks(t *testing.T) {
	o := converged()
	l := o.links["t-vm-0"]
	l.Alias = ""
	o.links["t-vm-0"] = l
	if _, err := plan(filteringDesired(), o); err == nil || !strings.Contains(err.Error(), "not created by nucbox") {
		t.Errorf("port name taken by a foreign link: err = %v", err)
	}
	o = converged()
	b := o.links["br0"]
	b.Alias = ""
	o.links["br0"] = b
	if _, err := plan(filteringDesired(), o); err == nil || !strings.Contains(err.Error(), "not created by nucbox") {
		t.Errorf("foreign bridge: err = %v", err)
	}
}

func TestPlanWithoutFilteringIgnoresVLANTables(t *testing.T) {
	d := Desired{Bridge: Bridge{Name: "br0"}, Ports: []Port{{Name: "t-vm-0", Kind: KindTAP, Label: "vm/vm/0", MAC: guestMAC}}}
	o := converged()
	o.filtering = true
	delete(o.links, "vlan20")
	got := steps(t, d, o)
	want := []string{"set-vlan-filtering br0 false"}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n got %q\nwant %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	d := Desired{
		Bridge: Bridge{Name: "br0"},
		Ports: []Port{
			{Name: "a", Kind: KindTAP, VLAN: 10},
			{Name: "a", Kind: KindTAP},
			{Name: "b", Kind: KindVeth},
			{Name: "c", Kind: KindTAP, VLAN: 5000, MAC: net.HardwareAddr{1, 0, 0, 0, 0, 1}},
		},
		Addresses: []VLANAddress{{VLAN: 10, Link: "vlan10", Prefix: netip.MustParsePrefix("10.0.0.1/24")}},
	}
	err := d.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"need VLAN filtering", "name used twice", "veth peer name", "outside 1..4094", "not a unicast", "box addresses on VLANs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPortVLANs(t *testing.T) {
	cases := []struct {
		p    Port
		want string
	}{
		{Port{VLAN: 10}, "[10 pvid untagged]"},
		{Port{Trunk: []int{30, 10}}, "[10 30]"},
		{Port{Trunk: []int{10, 20}, Native: 20}, "[10 20 pvid untagged]"},
		{Port{Trunk: []int{10}, Native: 5}, "[5 pvid untagged 10]"},
		{Port{}, "[]"},
	}
	for _, c := range cases {
		if got := fmtVLANs(c.p.VLANs()); got != c.want {
			t.Errorf("%+v: VLANs = %s, want %s", c.p, got, c.want)
		}
	}
}

func fmtVLANs(vs []VLAN) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = v.String()
	}
	return "[" + strings.Join(ss, " ") + "]"
}

func TestHostMAC(t *testing.T) {
	p := Port{MAC: guestMAC}
	if got := p.HostMAC().String(); got != "fe:00:00:00:00:10" {
		t.Errorf("HostMAC = %s", got)
	}
	p.MAC = net.HardwareAddr{0xfe, 1, 2, 3, 4, 5}
	if got := p.HostMAC().String(); got != "fa:01:02:03:04:05" {
		t.Errorf("HostMAC of fe: guest = %s", got)
	}
}
