package netcfg

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

var (
	resolvLine = regexp.MustCompile(`^(# written by nucbox; changes are overwritten|search [a-z0-9.-]+( [a-z0-9.-]+)*|nameserver [0-9a-f.:]+)$`)
	dnsName    = regexp.MustCompile(`^[a-zA-Z0-9.-]*$`)
)

// FuzzDHCPAck feeds a server's packet, which anyone on the uplink can
// send, through what the client does with an ACK: parse it, take the
// lease from it (address, times, names), write resolv.conf from it and
// build the renewal and the release from it. Never a panic; resolv.conf
// holds only its comment, search and nameserver lines, with valid
// names; T1, T2 and the expiry come in that order.
func FuzzDHCPAck(f *testing.F) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	ack, err := dhcpv4.New(
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithYourIP(net.IPv4(10, 99, 0, 100)),
		dhcpv4.WithServerIP(net.IPv4(10, 99, 0, 1)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 99, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(net.CIDRMask(24, 32))),
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 99, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 99, 0, 53), net.IPv4(10, 99, 0, 53))),
		dhcpv4.WithOption(dhcpv4.OptDomainName("lab.test")),
		dhcpv4.WithOption(dhcpv4.OptHostName("nuc-test")),
		dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(2*time.Minute)),
		dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(2*time.Second)),
		dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(4*time.Second)),
	)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ack.ToBytes())
	ack.UpdateOption(dhcpv4.OptDomainName("evil.test\nnameserver 6.6.6.6"))
	ack.UpdateOption(dhcpv4.OptHostName("a b"))
	f.Add(ack.ToBytes())
	ack.UpdateOption(dhcpv4.OptIPAddressLeaseTime(0xffffffff * time.Second))
	ack.UpdateOption(dhcpv4.OptRenewTimeValue(time.Hour))
	f.Add(ack.ToBytes())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		pkt, err := dhcpv4.FromBytes(data)
		if err != nil {
			return
		}
		l := &nclient4.Lease{Offer: pkt, ACK: pkt, CreationTime: now}
		st, _ := leaseOf(l)
		if !dnsName.MatchString(st.Hostname) {
			t.Fatalf("hostname %q taken from the lease", st.Hostname)
		}
		if !st.T1.IsZero() && (st.T1.Before(now) || st.T2.Before(st.T1) || st.Expiry.Before(st.T2)) {
			t.Fatalf("lease times out of order: T1 %v T2 %v expiry %v", st.T1, st.T2, st.Expiry)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(resolvConf(st.DNS, st.Domain)), "\n"), "\n") {
			if !resolvLine.MatchString(line) {
				t.Fatalf("resolv.conf line %q from domain %q", line, st.Domain)
			}
		}
		mods := []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, mac...)))}
		dhcpv4.NewRenewFromAck(pkt, mods...)
		dhcpv4.NewReleaseFromACK(pkt, mods...)
		nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)(pkt)
	})
}
