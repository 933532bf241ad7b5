// Package dnsd is the box's DNS server on its internal VLANs.
//
// It owns one thing: answering DNS queries that arrive at the box's
// addresses on the VLANs it serves. NAME.DOMAIN is answered from the
// names the Spec gives (workloads' static addresses, from the config: A
// records for IPv4, AAAA for IPv6; and the box's own name, answered with
// its addresses on the link the query came in on) and from a lookup the
// caller supplies (the DHCP server's leases: workload
// names by MAC, then clients' host names); every other name is forwarded
// to the uplink's resolvers, which the caller supplies too (they change
// with the uplink's DHCP lease), and the answers are cached for their
// TTL, in a small bounded cache.
//
// The lab network is not the server's client: each socket is bound to
// its VLAN interface (SO_BINDTODEVICE), so a query from the uplink side
// never reaches it, and a query whose source is not inside the subnet of
// the address it arrived at (or, at an IPv6 address, a link-local address
// of that link) is answered REFUSED. The box is no open resolver for the
// lab.
//
// UDP is read by one loop per address, started with internal/safe, which
// hands each query to a bounded set of workers (also under safe): a slow
// upstream cannot block local answers, and a flood costs dropped queries
// rather than goroutines. TCP is served by miekg/dns's server, whose
// handler recovers its own panics.
package dnsd
