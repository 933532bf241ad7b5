// Command rawsend sends the packets a hostile tenant would, from inside a
// container of the e2e tests, with the raw sockets CAP_NET_RAW allows:
//
//	rawsend udp SRC DST PORT TEXT   an IPv4 UDP datagram with any source
//	rawsend ra IFACE PREFIX          an IPv6 router advert to ff02::1 on
//	                                 IFACE: a default route and PREFIX/64
//
// It prints one line saying what it sent, or why not, and exits 0 only
// when the kernel took the packet.
package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 6 && os.Args[1] == "udp":
		err = sendUDP(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case len(os.Args) == 4 && os.Args[1] == "ra":
		err = sendRA(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("usage: rawsend udp SRC DST PORT TEXT | rawsend ra IFACE PREFIX")
	}
	if err != nil {
		fmt.Printf("RAWSEND-FAILED %s: %v\n", os.Args[1:], err)
		os.Exit(1)
	}
	fmt.Printf("RAWSEND-SENT %s\n", os.Args[1:])
}

func sendUDP(src, dst, port, text string) error {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	p, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	payload := []byte(text)
	pkt := make([]byte, 28+len(payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8], pkt[9] = 64, syscall.IPPROTO_UDP
	copy(pkt[12:16], s[:])
	copy(pkt[16:20], d[:])
	binary.BigEndian.PutUint16(pkt[10:], checksum(pkt[:20]))
	binary.BigEndian.PutUint16(pkt[20:], 40000)
	binary.BigEndian.PutUint16(pkt[22:], uint16(p))
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	copy(pkt[28:], payload)
	return syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: d})
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// sendRA sends a router advert with a router lifetime (a default route
// for whoever accepts it) and an autonomous on-link prefix. The kernel
// sets the link-local source and the checksum; it refuses while the link
// has no link-local address yet, hence the retries.
func sendRA(iface, prefix string) error {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	pfx := netip.MustParseAddr(prefix).As16()
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_RAW, syscall.IPPROTO_ICMPV6)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS, 255); err != nil {
		return err
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_IF, ifi.Index); err != nil {
		return err
	}
	ra := make([]byte, 16+32)
	ra[0] = 134                              // router advertisement
	ra[4] = 64                               // hop limit
	binary.BigEndian.PutUint16(ra[6:], 1800) // router lifetime
	o := ra[16:]                             // prefix information
	o[0], o[1], o[2], o[3] = 3, 4, 64, 0xc0  // on-link, autonomous
	binary.BigEndian.PutUint32(o[4:], 86400) // valid
	binary.BigEndian.PutUint32(o[8:], 14400) // preferred
	copy(o[16:], pfx[:])
	to := &syscall.SockaddrInet6{ZoneId: uint32(ifi.Index)}
	copy(to.Addr[:], net.ParseIP("ff02::1").To16())
	for i := 0; ; i++ {
		err = syscall.Sendto(fd, ra, 0, to)
		if err == nil || i == 30 {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
