package netcfg

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// TestLeaseNTP: the time servers of option 42 come with the lease, and
// an ACK without them gives none.
func TestLeaseNTP(t *testing.T) {
	for _, tc := range []struct {
		opt  []net.IP
		want string
	}{
		{nil, "[]"},
		{[]net.IP{net.IPv4(10, 0, 0, 1), net.IPv4(10, 0, 0, 2)}, "[10.0.0.1 10.0.0.2]"},
	} {
		mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(net.IPv4(10, 0, 0, 9))}
		if tc.opt != nil {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptNTPServers(tc.opt...)))
		}
		ack, err := dhcpv4.New(mods...)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := leaseOf(&nclient4.Lease{ACK: ack, Offer: ack, CreationTime: time.Now()})
		if got := fmt.Sprint(st.NTP); got != tc.want {
			t.Errorf("option 42 %v: lease NTP %s, want %s", tc.opt, got, tc.want)
		}
	}
}
