package boot

import (
	"context"
	"net"
	"strings"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/internal/linelog"
	"github.com/nucbox/nucbox/netcfg"
)

// netBootLease is a DHCP lease on the uplink taken before the config is
// known, so that a config URL can be fetched. It is given back (released,
// address removed) when the config is in: the network stage then does
// what the config says.
type netBootLease struct {
	m     *netcfg.Manager
	st    netcfg.Status
	uuid  string
	hostn string
}

// startBootLease runs the box's DHCP client on the NIC named by BOOTIF
// (the PXE loader's 01-aa-bb-cc-dd-ee-ff), or the first Ethernet link with
// carrier, without a bridge.
func startBootLease(ctx context.Context, bootif string) (bootLease, error) {
	// No switch: the lease stays on the bare uplink.
	m, err := netcfg.New(netcfg.Options{Logger: linelog.New(func(f string, a ...any) { Logf("config: dhcp: "+f, a...) }, nil)})
	if err != nil {
		return nil, err
	}
	spec := netcfg.Spec{
		Hostname: box.DefaultHostname,
		Uplink:   netcfg.Selector{CarrierTimeout: config.DefaultCarrierTimeout.Std()},
		IPv4:     netcfg.IPv4{DHCP: true},
		Probe:    netcfg.Probe{Disabled: true},
	}
	if mac := parseBootIf(bootif); mac != nil {
		spec.Uplink.MAC = mac
	}
	st, err := m.Apply(ctx, spec)
	if err != nil {
		m.Close()
		return nil, err
	}
	l := &netBootLease{m: m, st: st, uuid: machineUUID()}
	if st.Lease != nil {
		l.hostn = st.Lease.Hostname
		Logf("config: temporary lease %s on %s from %s", st.Lease.Address, st.Uplink, st.Lease.Server)
	}
	return l, nil
}

// parseBootIf reads BOOTIF=01-aa-bb-cc-dd-ee-ff (type 01 is Ethernet).
func parseBootIf(s string) net.HardwareAddr {
	s = strings.TrimPrefix(strings.ToLower(s), "01-")
	mac, err := net.ParseMAC(strings.ReplaceAll(s, "-", ":"))
	if err != nil || len(mac) != 6 {
		return nil
	}
	return mac
}

// Vars are the URL template's values. ${mac} is colon-separated lower-case
// hex, as iPXE writes its own ${mac}; ${hostname} is the name the DHCP
// server gave, else the box's default.
func (l *netBootLease) Vars() map[string]string {
	h := l.hostn
	if h == "" {
		h = box.DefaultHostname
	}
	return map[string]string{"mac": l.st.UplinkMAC.String(), "uuid": l.uuid, "hostname": h}
}

func (l *netBootLease) NTP() []string {
	var out []string
	if l.st.Lease != nil {
		for _, a := range l.st.Lease.NTP {
			out = append(out, a.String())
		}
	}
	return out
}

func (l *netBootLease) Close() error { return l.m.Close() }
