package qemuboot

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LabHost is a machine of the lab on the box's uplink wire: it answers ARP
// and ping at Addr, on VLAN (tagged), or untagged when VLAN is 0.
type LabHost struct {
	VLAN int
	Addr netip.Addr
}

// Lab is the wire a box under test is plugged into: QEMU's user network
// for the untagged LAN (a DHCP server, the gateway 10.0.2.2, a name server
// at 10.0.2.3) and, on the same wire through QEMU's hub, lab hosts on
// tagged VLANs, which the user network would drop. It is how `nucbox test`
// checks that a workload on VLAN 30 reaches a lab machine on VLAN 30
// through the switch port its uplink is on.
type Lab struct {
	hosts []labHost
	dir   string
	conn  *net.UnixConn
	qemu  string
	done  chan struct{}
	// serving is set once Serve runs, so that Close waits for it.
	serving atomic.Bool
	// trunk is the directory of the labs this one shares tagged frames
	// with; peers are their sockets, looked up again now and then.
	trunk     string
	peers     []string
	peersSeen time.Time

	mu      sync.Mutex
	answers map[netip.Addr]int
}

type labHost struct {
	vlan int
	addr netip.Addr
	mac  net.HardwareAddr
}

// StartLab starts the lab hosts; Close stops them. A non-empty trunk is a
// directory shared by the labs of other boxes on this machine (`nucbox
// run --trunk`): tagged frames go to every box whose lab socket is there,
// so their VLANs meet as on one switch, while untagged frames stay on
// each box's own user network (two user networks on one wire would hand
// out the same address twice).
func StartLab(hosts []LabHost, trunk string) (*Lab, error) {
	l := &Lab{done: make(chan struct{}), answers: map[netip.Addr]int{}}
	seen := map[LabHost]bool{}
	for i, h := range hosts {
		if h.VLAN < 0 || h.VLAN > 4094 {
			return nil, fmt.Errorf("lab host %s: VLAN %d out of range", h.Addr, h.VLAN)
		}
		if !h.Addr.Is4() {
			return nil, fmt.Errorf("lab host %s: want an IPv4 address", h.Addr)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		// Locally administered, and different for every host.
		mac := net.HardwareAddr{0x02, 0x6c, 0x61, byte(h.VLAN >> 8), byte(h.VLAN), byte(i)}
		l.hosts = append(l.hosts, labHost{vlan: h.VLAN, addr: h.Addr, mac: mac})
	}
	// Unix socket paths are short: a directory of its own under /tmp.
	dir, err := os.MkdirTemp("", "nblab")
	if err != nil {
		return nil, err
	}
	l.dir, l.qemu = dir, filepath.Join(dir, "q")
	sock := filepath.Join(dir, "l")
	if trunk != "" {
		if err := os.MkdirAll(trunk, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("trunk %s: %w", trunk, err)
		}
		l.trunk = trunk
		sock = filepath.Join(trunk, filepath.Base(dir)+".sock")
	}
	l.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

// Serve answers frames until Close; run it on its own goroutine.
func (l *Lab) Serve() {
	l.serving.Store(true)
	defer close(l.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := l.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		if from == nil {
			continue
		}
		f := buf[:n]
		switch {
		case from.Name == l.qemu:
			if reply := l.answer(f); reply != nil {
				l.send(l.qemu, reply)
			}
			if l.trunk != "" && tagged(f) {
				for _, p := range l.peerSockets() {
					l.send(p, f)
				}
			}
		case l.trunk != "" && filepath.Dir(from.Name) == l.trunk && tagged(f):
			l.send(l.qemu, f)
		}
	}
}

// Answers counts the pings each host answered.
func (l *Lab) Answers() map[netip.Addr]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[netip.Addr]int{}
	for k, v := range l.answers {
		out[k] = v
	}
	return out
}

// Close stops the hosts and removes the sockets.
func (l *Lab) Close() {
	l.conn.Close()
	if l.serving.Load() {
		<-l.done
	}
	if l.trunk != "" {
		os.Remove(l.conn.LocalAddr().String())
	}
	os.RemoveAll(l.dir)
}

// netdev is the -netdev for QEMU's end of the lab's wire.
func (l *Lab) netdev() string {
	return "dgram,id=lab,local.type=unix,local.path=" + l.qemu + ",remote.type=unix,remote.path=" + l.conn.LocalAddr().String()
}

// send never blocks: QEMU (or a peer) not reading yet, or any more, loses
// the frame, as a wire would.
func (l *Lab) send(path string, b []byte) {
	rc, err := l.conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Write(func(fd uintptr) bool {
		_ = syscall.Sendto(int(fd), b, syscall.MSG_DONTWAIT, &syscall.SockaddrUnix{Name: path})
		return true
	})
}

// peerSockets lists the other labs on the trunk, at most once a second:
// boxes join and leave while this one runs.
func (l *Lab) peerSockets() []string {
	if time.Since(l.peersSeen) < time.Second {
		return l.peers
	}
	self := l.conn.LocalAddr().String()
	all, _ := filepath.Glob(filepath.Join(l.trunk, "*.sock"))
	l.peers = l.peers[:0]
	for _, p := range all {
		if p != self {
			l.peers = append(l.peers, p)
		}
	}
	l.peersSeen = time.Now()
	return l.peers
}

// tagged reports whether a frame carries an 802.1Q tag.
func tagged(f []byte) bool {
	return len(f) >= 18 && binary.BigEndian.Uint16(f[12:14]) == etherVLAN
}

const (
	etherARP  = 0x0806
	etherIPv4 = 0x0800
	etherVLAN = 0x8100
)

// answer returns the reply to a frame, or nil: ARP requests and ICMP
// echo requests for a host on the frame's VLAN.
func (l *Lab) answer(f []byte) []byte {
	if len(f) < 14 {
		return nil
	}
	vlan, typ, payload := 0, binary.BigEndian.Uint16(f[12:14]), f[14:]
	if typ == etherVLAN {
		if len(f) < 18 {
			return nil
		}
		vlan, typ, payload = int(binary.BigEndian.Uint16(f[14:16])&0x0fff), binary.BigEndian.Uint16(f[16:18]), f[18:]
	}
	src := net.HardwareAddr(f[6:12])
	switch typ {
	case etherARP:
		// Ethernet/IPv4 request: htype 1, ptype 0x0800, op 1.
		if len(payload) < 28 || binary.BigEndian.Uint16(payload[0:2]) != 1 || binary.BigEndian.Uint16(payload[2:4]) != etherIPv4 || binary.BigEndian.Uint16(payload[6:8]) != 1 {
			return nil
		}
		target, _ := netip.AddrFromSlice(payload[24:28])
		h := l.host(vlan, target)
		if h == nil {
			return nil
		}
		arp := make([]byte, 28)
		copy(arp, payload[:6])
		binary.BigEndian.PutUint16(arp[6:8], 2)
		copy(arp[8:14], h.mac)
		copy(arp[14:18], payload[24:28])
		copy(arp[18:24], payload[8:14])
		copy(arp[24:28], payload[14:18])
		return frame(src, h.mac, vlan, etherARP, arp)
	case etherIPv4:
		if len(payload) < 20 || payload[0]>>4 != 4 || payload[9] != 1 {
			return nil
		}
		ihl := int(payload[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(payload[2:4]))
		if ihl < 20 || total > len(payload) || total < ihl+8 || payload[ihl] != 8 {
			return nil
		}
		dst, _ := netip.AddrFromSlice(payload[16:20])
		h := l.host(vlan, dst)
		if h == nil || string(f[0:6]) != string(h.mac) {
			return nil
		}
		ip := append([]byte(nil), payload[:total]...)
		copy(ip[12:16], payload[16:20])
		copy(ip[16:20], payload[12:16])
		ip[8] = 64
		binary.BigEndian.PutUint16(ip[10:12], 0)
		binary.BigEndian.PutUint16(ip[10:12], checksum(ip[:ihl]))
		icmp := ip[ihl:]
		icmp[0] = 0 // echo reply
		binary.BigEndian.PutUint16(icmp[2:4], 0)
		binary.BigEndian.PutUint16(icmp[2:4], checksum(icmp))
		l.mu.Lock()
		l.answers[h.addr]++
		l.mu.Unlock()
		return frame(src, h.mac, vlan, etherIPv4, ip)
	}
	return nil
}

func (l *Lab) host(vlan int, a netip.Addr) *labHost {
	for i := range l.hosts {
		if l.hosts[i].vlan == vlan && l.hosts[i].addr == a {
			return &l.hosts[i]
		}
	}
	return nil
}

func frame(dst, src net.HardwareAddr, vlan int, typ uint16, payload []byte) []byte {
	b := make([]byte, 0, 18+len(payload))
	b = append(b, dst...)
	b = append(b, src...)
	if vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, etherVLAN)
		b = binary.BigEndian.AppendUint16(b, uint16(vlan))
	}
	b = binary.BigEndian.AppendUint16(b, typ)
	return append(b, payload...)
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
