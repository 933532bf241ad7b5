// Package netcfg owns the box's own layer-3 networking: uplink selection,
// IPv4 and IPv6 addresses and routes, DNS, the DHCPv4 and DHCPv6 clients
// with renewals, and moving the uplink address onto the bridge without
// stranding the box.
//
// A Manager works in one network namespace (the initial one on the
// appliance, one made by the test in tests). Apply is the supervisor's
// network stage: it selects the uplink (by name, by MAC, or the first
// physical Ethernet link with carrier in bus order), configures its
// address (static, or DHCP through nclient4), then lets the bridge take
// the uplink over (same MAC, address and routes moved, DHCP client moved
// with its lease), probes the gateway by ARP with sub-second retries, and
// restores the previous state when the probe fails. The uplink's IPv6 is
// SLAAC (the kernel's, from the lab's adverts), DHCPv6 (nclient6) or
// static: a static or leased address moves with the takeover, and a
// static IPv6 router is probed by neighbour solicitation from the
// unspecified address, its failure rolled back like the IPv4 probe's. The returned Status
// carries the lease, the takeover's outage, the probe and any rollback,
// and counts the netlink changes made: a repeated Apply makes none.
//
// What a DHCP server says is untrusted input: the domain search list and
// host name of a lease are kept only as valid DNS names (resolv.go)
// before they reach resolv.conf, the status or a config URL.
//
// ApplyFirewall owns the box's packet filter, one nftables table of
// family inet (FirewallTable): the box's services answer the lab network
// and, on internal VLANs, only what the compiled Firewall opens; NAT
// segments are forwarded from their own subnets only, masqueraded in both
// families (NAT66 for IPv6); VLAN interfaces filter reverse paths
// strictly, IPv4 and IPv6, and ignore router adverts and redirects. It compares before it writes, so a
// repeated apply changes nothing.
//
// The bridge itself and the uplink's VLANs belong to vswitch; netcfg only
// asks the box's switch, which it is given (Options.Switch) and never
// opens itself, to create the bridge and attach the uplink, in the order
// the takeover needs. The Spec comes complete from config/plan: netcfg
// reads no config and sets no defaults.
//
// The box's own servers on its VLANs are packages of their own beside it:
// netcfg/dhcpd (DHCPv4) and netcfg/dnsd (DNS for workload names).
package netcfg
