// Package capture records the frames of one switch port (a VM's TAP, a
// container's veth, the uplink) as a pcap stream, so that a person can
// watch a port of the box from a laptop with Wireshark. It reads through
// a packet socket (gopacket's pcapgo.EthernetHandle: no libpcap), puts
// back the 802.1Q tag the kernel took off into metadata, keeps only one
// VLAN when asked, and stops at a packet count or a byte limit.
package capture
