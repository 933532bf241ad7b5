// Package lldp tells which switch port the box is plugged into, and tells
// the switch who the box is: it listens for IEEE 802.1AB (LLDP) frames on
// the uplink and keeps each neighbour until its time to live runs out,
// and it sends the box's own every 30 seconds. Frames are built and read
// with gopacket's LLDP layers, through a packet socket on the uplink (a
// bridge port passes these link-local frames to its own sockets).
package lldp
