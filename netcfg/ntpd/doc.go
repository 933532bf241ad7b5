// Package ntpd is the box's NTP server on its internal VLANs (server
// mode of RFC 5905, NTPv1 to v4 requests).
//
// It owns one thing: answering the NTP client requests that arrive at the
// box's IPv4 and IPv6 addresses on the VLANs it serves, with the box's
// own clock. The
// box is a client of an upstream server (netcfg/timesync), and the
// caller tells the server what that client knows: whether the clock was
// synced, from which address, at what stratum and when. A box whose
// clock was never synced this boot answers with the alarm leap indicator
// and stratum 16, so that its clients keep asking elsewhere rather than
// follow a clock that may read 1970; once synced it is one stratum below
// its upstream, whose IPv4 address is its reference id.
//
// As the DNS server, each socket is bound to its VLAN interface
// (SO_BINDTODEVICE), so the uplink's side never reaches it, and a request
// whose source is not inside the subnet of the address it arrived at
// (or, at an IPv6 address, on the link: link-local) is dropped. IPv6
// clients learn the address from the config: the box's router adverts
// cannot carry it, and it serves no DHCPv6 (whose option 56 could). A reply is no larger than its request, so the server is no
// amplifier. One loop per address reads and answers (under
// internal/safe): an answer costs microseconds.
package ntpd
