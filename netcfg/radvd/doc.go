// Package radvd sends the box's IPv6 router advertisements on its
// internal VLANs.
//
// It owns one thing: on each interface its Spec names, advertise the
// VLAN's /64 as an on-link prefix with the autonomous flag, so that
// workloads configure their own addresses (SLAAC), and the box's address
// as DNS server (RDNSS) where the box serves DNS. The router lifetime is
// 0 unless the link's Router is set (the box forwards its IPv6 with
// NAT66): a box that does not forward must not become anyone's default
// router.
//
// Adverts go to all nodes every Interval (three quicker ones first, so
// that a link coming up is served within seconds) and in answer to each
// router solicitation. The message is built by Advert, pure and tested
// without sockets; the socket is mdlayher/ndp's raw ICMPv6 socket, bound
// to the interface's link-local address (RFC 4861 makes hosts drop
// adverts from any other source), so nothing leaves by another link.
//
// One loop per interface, started with internal/safe: a panic on one
// packet restarts the loop; PID 1 carries on.
package radvd
