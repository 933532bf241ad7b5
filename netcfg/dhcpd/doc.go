// Package dhcpd is the box's DHCPv4 server on its internal VLANs.
//
// It owns one thing: answering DHCP on the interfaces its Spec names, from
// the box's address there. A Scope is one such interface: its subnet, the
// range of dynamic addresses, the fixed leases of the workload NICs the
// config knows (by MAC) and the options sent (router, DNS server, domain,
// MTU, lease time). Nothing else answers: each scope's socket is bound to
// its interface (server4.NewIPv4UDPConn, SO_BINDTODEVICE), so a request
// arriving on the uplink, or on a VLAN without a scope, finds no server.
//
// Allocation (leases.go) is pure and tested without sockets: a known host
// gets its fixed address; a returning client its previous address while
// no one else holds it; then the address it asks for, if free and in the
// range; then the lowest address never leased, then the one expired
// longest ago. An offer holds its address for a short while so that two
// clients discovering at once do not get the same one.
//
// Leases are kept in memory and, when the Server has a directory (the data
// partition), in leases.json there, replaced atomically after every
// change that a reboot must not lose (an ACK, a release, a decline), so a
// client keeps its address across reboots of the box.
//
// The messages are handled one at a time by one loop per scope, started
// with internal/safe: server4.Server.Serve starts a goroutine per packet,
// which neither bounds the work a flood of requests makes nor recovers a
// panic, so the package uses server4's socket and its own loop. A panic on
// one packet restarts the loop; PID 1 carries on. The loop takes what is
// queued on the socket as one batch (batch.go): the leases are saved once
// for the batch, before any of its replies leaves, so that a burst of
// clients costs one sync of the leases file per batch, not one per ACK,
// and an ACK is still on disk before the client has it.
package dhcpd
