// Package policy applies port policies to the bridge's workload ports:
// allow/deny rules by protocol, port and address, MAC and IP spoofing
// protection, BPDU and router-advert guards, rate limits and port
// mirrors. It is what a managed switch calls port ACLs, port security,
// storm and rate control and SPAN.
//
// The filtering lives in one nftables table of the bridge family, "bridge
// nucbox", which nucbox owns whole: Build makes it without a connection
// (pure, unit-tested), Apply compares it with the kernel's and replaces it
// in one transaction when it differs, so a packet never meets half a rule
// set and a second Apply changes nothing. Frames a workload sends are
// checked at the bridge's prerouting hook by the port they enter on
// (iifname), before the bridge learns their source MAC, frames delivered
// to it at postrouting by the port they leave by (oifname), so switched
// frames and the box's own are filtered alike. Each hook finds the port's
// chain by comparing names, or with many ports by one lookup in a verdict
// map (dispatch.go).
//
// Rates and mirrors are traffic control, set through netlink. A TBF
// qdisc on the port shapes what the port sends to the workload; what the
// workload sends is redirected, by a u32 filter on the port's clsact
// ingress, to an IFB of its own (i-web-0 for v-web-0) whose TBF shapes it
// the same way. (tc's police action would do without the IFB, but not
// every kernel nucbox runs on has it, and nftables' byte limit starts
// with a bucket of a whole second.) Mirrors are u32 filters with mirred
// actions on both sides of the port, ahead of the redirect. tc has no
// transactions: Apply changes a port's qdiscs and filters only where they
// differ from the spec, and removes only its own, known by handle,
// priority and link alias.
//
// The spoof guard takes a port's MAC, its static IPv4 and its static
// IPv6 address: IPv6 may then leave only from that address, the link-local
// and SLAAC addresses the MAC gives (EUI-64) and ::, and a neighbour
// advert only for those addresses, so a workload can neither send as
// another nor take another's traffic. Temporary (privacy) addresses are
// not allowed: their point is that a source names no one, the guard's
// that it names the port.
//
// The package does not read the config: config/plan compiles a Spec with
// every link name and address final.
package policy
