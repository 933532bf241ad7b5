package netcfg

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch"
)

func TestValidate(t *testing.T) {
	s := Spec{IPv4: IPv4{Address: netip.MustParsePrefix("10.0.0.5/24"), Gateway: netip.MustParseAddr("10.0.1.1")}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("gateway outside the subnet: %v", err)
	}
	s = Spec{IPv4: IPv4{DHCP: true}, Probe: Probe{Disabled: true}}
	for _, want := range []string{"carrier timeout 0s is not positive"} {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("spec without timeouts: %v, want %q", err, want)
		}
	}
	s.Uplink.CarrierTimeout = time.Second
	s.UplinkPort = vswitch.Port{Kind: vswitch.KindExternal, Trunk: []int{10}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "need VLAN filtering") {
		t.Errorf("uplink VLANs without filtering: %v", err)
	}
	s.Bridge.VLANFiltering = true
	if err := s.Validate(); err != nil {
		t.Errorf("complete spec: %v", err)
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
