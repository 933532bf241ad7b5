// Package vlancheck tells whether the switch port the box is plugged into
// carries each tagged VLAN the config expects on the uplink, so that a
// trunk configured on one side only shows in the box's status rather than
// in a guest that gets no address.
//
// For each VLAN it sends one probe, tagged, straight onto the uplink
// through a packet socket (not through the bridge, which would also
// deliver it to the box's own workloads): an ARP request for the VLAN's
// gateway when the config names one, else a DHCP discover. An answer
// tagged with that VLAN proves the switch carries it. Silence is read
// differently by probe: a named gateway that does not answer ARP means
// the port does not carry the VLAN; an unanswered DHCP discover may also
// mean that nothing on the VLAN serves DHCP, and the verdict says so.
// Probes are retried a few times within a short, bounded window.
package vlancheck
