package qemuboot

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

var boxMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

func arpRequest(vlan int, sender, target string) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], etherIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], 1)
	copy(p[8:14], boxMAC)
	copy(p[14:18], netip.MustParseAddr(sender).AsSlice())
	copy(p[24:28], netip.MustParseAddr(target).AsSlice())
	return frame(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, boxMAC, vlan, etherARP, p)
}

func echoRequest(dst net.HardwareAddr, vlan int, from, to string) []byte {
	icmp := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i', '!'}
	binary.BigEndian.PutUint16(icmp[2:4], checksum(icmp))
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(icmp)))
	copy(ip[12:16], netip.MustParseAddr(from).AsSlice())
	copy(ip[16:20], netip.MustParseAddr(to).AsSlice())
	binary.BigEndian.PutUint16(ip[10:12], checksum(ip))
	return frame(dst, boxMAC, vlan, etherIPv4, append(ip, icmp...))
}

func TestLabAnswers(t *testing.T) {
	l, err := StartLab([]LabHost{{VLAN: 30, Addr: netip.MustParseAddr("10.0.30.5")}, {Addr: netip.MustParseAddr("10.0.2.50")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mac30 := l.hosts[0].mac

	reply := l.answer(arpRequest(30, "10.0.30.9", "10.0.30.5"))
	if reply == nil {
		t.Fatal("no ARP reply on VLAN 30")
	}
	if binary.BigEndian.Uint16(reply[12:14]) != etherVLAN || binary.BigEndian.Uint16(reply[14:16]) != 30 || !bytes.Equal(reply[0:6], boxMAC) {
		t.Fatalf("ARP reply not tagged 30 to the asker: % x", reply[:18])
	}
	arp := reply[18:]
	if binary.BigEndian.Uint16(arp[6:8]) != 2 || !bytes.Equal(arp[8:14], mac30) || !bytes.Equal(arp[14:18], []byte{10, 0, 30, 5}) || !bytes.Equal(arp[24:28], []byte{10, 0, 30, 9}) {
		t.Fatalf("ARP reply body % x", arp)
	}
	for name, f := range map[string][]byte{
		"other VLAN":          arpRequest(31, "10.0.30.9", "10.0.30.5"),
		"untagged":            arpRequest(0, "10.0.30.9", "10.0.30.5"),
		"other address":       arpRequest(30, "10.0.30.9", "10.0.30.6"),
		"echo on other VLAN":  echoRequest(mac30, 20, "10.0.30.9", "10.0.30.5"),
		"echo to another MAC": echoRequest(boxMAC, 30, "10.0.30.9", "10.0.30.5"),
		"short":               {1, 2, 3},
	} {
		if r := l.answer(f); r != nil {
			t.Errorf("%s: answered % x", name, r)
		}
	}
	if r := l.answer(arpRequest(0, "10.0.2.15", "10.0.2.50")); r == nil || binary.BigEndian.Uint16(r[12:14]) != etherARP {
		t.Errorf("the untagged host did not answer ARP untagged: % x", r)
	}

	reply = l.answer(echoRequest(mac30, 30, "10.0.30.9", "10.0.30.5"))
	if reply == nil {
		t.Fatal("no echo reply")
	}
	ip := reply[18:]
	if checksum(ip[:20]) != 0 || checksum(ip[20:]) != 0 {
		t.Errorf("checksums do not verify: % x", ip)
	}
	if ip[20] != 0 || !bytes.Equal(ip[12:16], []byte{10, 0, 30, 5}) || !bytes.Equal(ip[16:20], []byte{10, 0, 30, 9}) || !bytes.Equal(ip[28:], []byte("hi!")) {
		t.Errorf("echo reply % x", ip)
	}
	if n := l.Answers()[netip.MustParseAddr("10.0.30.5")]; n != 1 {
		t.Errorf("answered %d pings, want 1", n)
	}
}

// TestLabSocket sends a request the way QEMU does, from the socket the
// lab's netdev names, and reads the answer there.
func TestLabSocket(t *testing.T) {
	l, err := StartLab([]LabHost{{VLAN: 30, Addr: netip.MustParseAddr("10.0.30.5")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	defer l.Close()
	q, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: l.qemu, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.WriteToUnix(arpRequest(30, "10.0.30.9", "10.0.30.5"), l.conn.LocalAddr().(*net.UnixAddr)); err != nil {
		t.Fatal(err)
	}
	_ = q.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := q.Read(buf)
	if err != nil {
		t.Fatalf("no answer over the socket: %v", err)
	}
	if n != 18+28 || binary.BigEndian.Uint16(buf[16:18]) != etherARP {
		t.Fatalf("answer % x", buf[:n])
	}
}

func TestStartLabRefuses(t *testing.T) {
	if _, err := StartLab([]LabHost{{VLAN: 5000, Addr: netip.MustParseAddr("10.0.0.1")}}, ""); err == nil {
		t.Error("VLAN 5000 accepted")
	}
	if _, err := StartLab([]LabHost{{Addr: netip.MustParseAddr("fd00::1")}}, ""); err == nil {
		t.Error("an IPv6 lab host accepted")
	}
}

// TestLabTrunk joins two boxes' labs on one trunk: a tagged frame from
// one box's QEMU reaches the other's; an untagged one (each box's own user
// network) does not.
func TestLabTrunk(t *testing.T) {
	trunk := filepath.Join(t.TempDir(), "trunk")
	qemu := func() (*Lab, *net.UnixConn) {
		l, err := StartLab(nil, trunk)
		if err != nil {
			t.Fatal(err)
		}
		go l.Serve()
		q, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: l.qemu, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { q.Close(); l.Close() })
		return l, q
	}
	a, qa := qemu()
	b, qb := qemu()
	// A bare socket on the trunk sees what a lab sends to its peers.
	peer, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(trunk, "peer.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	send := func(from *net.UnixConn, l *Lab, f []byte) {
		if _, err := from.WriteToUnix(f, l.conn.LocalAddr().(*net.UnixAddr)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(q *net.UnixConn, d time.Duration) []byte {
		_ = q.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 2048)
		n, err := q.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	untagged := echoRequest(boxMAC, 0, "10.0.2.15", "10.0.2.2")
	tagged := echoRequest(boxMAC, 30, "10.0.30.9", "10.0.30.10")
	send(qa, a, untagged)
	send(qa, a, tagged)
	if got := recv(qb, 5*time.Second); !bytes.Equal(got, tagged) {
		t.Fatalf("box B's QEMU got % x, want the tagged frame from A", got)
	}
	if got := recv(qb, 300*time.Millisecond); got != nil {
		t.Errorf("box B's QEMU also got % x: untagged frames must stay on A", got)
	}
	// Each side holds untagged frames back on its own: A sends the
	// trunk only the tagged one, and B does not pass on an untagged one
	// a peer sends.
	if got := recv(peer, 5*time.Second); !bytes.Equal(got, tagged) {
		t.Errorf("the trunk got % x from A first, want the tagged frame", got)
	}
	if got := recv(peer, 300*time.Millisecond); got != nil {
		t.Errorf("the trunk got % x from A too", got)
	}
	send(peer, b, untagged)
	send(peer, b, tagged)
	if got := recv(qb, 5*time.Second); !bytes.Equal(got, tagged) {
		t.Errorf("box B's QEMU got % x from a peer first, want the tagged frame", got)
	}
	// And back, from B to A.
	send(qb, b, tagged)
	if got := recv(qa, 5*time.Second); !bytes.Equal(got, tagged) {
		t.Errorf("box A's QEMU got % x, want the tagged frame from B", got)
	}
	// A socket outside the trunk is not listened to.
	var stranger *net.UnixConn
	stranger, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "x.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	send(stranger, a, tagged)
	if got := recv(qa, 300*time.Millisecond); got != nil {
		t.Errorf("a frame from outside the trunk reached box A's QEMU: % x", got)
	}
}
