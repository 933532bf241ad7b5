package netcfg

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
	"github.com/vishvananda/netlink"
)

func TestFromConfig(t *testing.T) {
	c := &config.Config{Hostname: "nuc1", Uplink: config.Uplink{
		MAC:   "AA:BB:CC:DD:EE:FF",
		IPv4:  config.IPv4{Address: "192.168.1.10/24", Gateway: "192.168.1.1"},
		DNS:   []string{"192.168.1.1", "9.9.9.9"},
		VLANs: []int{10, 20},
		Probe: config.Probe{Target: "192.168.1.2"},
	}}
	s, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Uplink.MAC.String() != "aa:bb:cc:dd:ee:ff" || s.Uplink.Auto() {
		t.Errorf("selector = %+v", s.Uplink)
	}
	if s.IPv4.DHCP || s.IPv4.Address != netip.MustParsePrefix("192.168.1.10/24") || s.IPv4.Gateway != netip.MustParseAddr("192.168.1.1") {
		t.Errorf("ipv4 = %+v", s.IPv4)
	}
	if s.Bridge.Name != "br0" || !s.Bridge.VLANFiltering || s.Bridge.NativeVLAN != 1 {
		t.Errorf("bridge = %+v", s.Bridge)
	}
	if !slices.Equal(s.UplinkVLANs, []int{10, 20}) || len(s.DNS) != 2 || s.Probe.Target != netip.MustParseAddr("192.168.1.2") {
		t.Errorf("spec = %+v", s)
	}
	if s.carrierTimeout() != DefaultCarrierTimeout || s.probeTimeout() != DefaultProbeTimeout {
		t.Error("defaults not applied")
	}

	c = &config.Config{Uplink: config.Uplink{Interface: "auto"}}
	if s, err := FromConfig(c); err != nil || !s.IPv4.DHCP || !s.Uplink.Auto() {
		t.Errorf("empty uplink: %+v, %v", s, err)
	}
}

func TestFromConfigReportsEveryError(t *testing.T) {
	c := &config.Config{Uplink: config.Uplink{
		MAC:   "nope",
		IPv4:  config.IPv4{Address: "10.0.0.1", Gateway: "x"},
		DNS:   []string{"1.1.1.1", "dns.example"},
		Probe: config.Probe{Target: "?"},
	}}
	_, err := FromConfig(c)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"uplink.mac", "uplink.ipv4.address", "uplink.ipv4.gateway", "uplink.dns[1]", "uplink.probe.target"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	s := Spec{IPv4: IPv4{Address: netip.MustParsePrefix("10.0.0.5/24"), Gateway: netip.MustParseAddr("10.0.1.1")}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("gateway outside the subnet: %v", err)
	}
}

func TestNICOrder(t *testing.T) {
	mk := func(name, bus, dev string) netlink.Link {
		return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: name, ParentDevBus: bus, ParentDev: dev}}
	}
	links := []netlink.Link{
		mk("eth10", "", ""), mk("enp3s0", "pci", "0000:03:00.0"), mk("eth2", "", ""),
		mk("eno1", "pci", "0000:00:1f.6"), mk("ens10", "virtio", "virtio10"), mk("ens9", "virtio", "virtio9"),
	}
	slices.SortFunc(links, nicOrder)
	var got []string
	for _, l := range links {
		got = append(got, l.Attrs().Name)
	}
	want := []string{"eno1", "enp3s0", "ens9", "ens10", "eth2", "eth10"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestResolvConf(t *testing.T) {
	a := netip.MustParseAddr
	got := string(resolvConf([]netip.Addr{a("10.0.0.1"), a("9.9.9.9"), a("10.0.0.1"), {}}, "lab.example"))
	want := "# written by nucbox; changes are overwritten\nsearch lab.example\nnameserver 10.0.0.1\nnameserver 9.9.9.9\n"
	if got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	path := t.TempDir() + "/resolv.conf"
	for i, wantChanged := range []bool{true, false} {
		changed, err := writeFileIfChanged(path, []byte(want))
		if err != nil || changed != wantChanged {
			t.Errorf("write %d: changed %v err %v, want changed %v", i, changed, err, wantChanged)
		}
	}
}
