// Package linksock holds what the box's servers on its VLANs (DHCP, DNS,
// NTP) share about sockets bound to one link: binding with
// SO_BINDTODEVICE, so that a packet from another link (the uplink's side)
// never reaches the socket, and keeping one listener per wanted address,
// bound anew when its link was deleted and made again under a new index;
// and making the net package learn such a link's new index for IPv6
// zones (RefreshZones).
package linksock
