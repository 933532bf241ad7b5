package vlancheck

import (
	"encoding/binary"
	"net"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// sock is a Conn on a packet socket bound to the uplink. It takes every
// protocol: on a bridge port only taps see frames before the bridge does,
// and the kernel has already taken the tag off by then, so the VLAN comes
// from the packet's auxiliary data.
type sock struct {
	c  *packet.Conn
	rc syscall.RawConn
}

// Open opens a Conn on the named link in the caller's network namespace.
func Open(link string) (Conn, error) {
	ifi, err := net.InterfaceByName(link)
	if err != nil {
		return nil, err
	}
	c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		return nil, err
	}
	// Only tagged frames reach the socket: the rest of a busy uplink's
	// traffic is dropped in the kernel.
	filter, err := bpf.Assemble(taggedOnly)
	if err == nil {
		err = c.SetBPF(filter)
	}
	var rc syscall.RawConn
	if err == nil {
		rc, err = c.SyscallConn()
	}
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return &sock{c: c, rc: rc}, nil
}

var taggedOnly = []bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
	bpf.RetConstant{Val: 0xffff},
	bpf.RetConstant{Val: 0},
}

func (s *sock) Close() error { return s.c.Close() }

func (s *sock) Send(vlan int, frame []byte) error {
	tagged, err := tag(vlan, frame)
	if err != nil {
		return err
	}
	_, err = s.c.WriteTo(tagged, &packet.Addr{HardwareAddr: net.HardwareAddr(frame[:6])})
	return err
}

// tag puts an 802.1Q header into an untagged frame.
func tag(vlan int, frame []byte) ([]byte, error) {
	if len(frame) < 14 || vlan < 1 || vlan > 4094 {
		return nil, unix.EINVAL
	}
	out := make([]byte, 0, len(frame)+4)
	out = append(out, frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, unix.ETH_P_8021Q)
	out = binary.BigEndian.AppendUint16(out, uint16(vlan))
	return append(out, frame[12:]...), nil
}

func (s *sock) Recv(buf []byte, deadline time.Time) (int, int, error) {
	if err := s.c.SetReadDeadline(deadline); err != nil {
		return 0, 0, err
	}
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := s.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return 0, 0, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if vlan, ok := auxVLAN(oob[:oobn]); ok {
			return n, vlan, nil
		}
		// A tag the kernel left in the frame (no offload, or stacked).
		if n >= 18 && binary.BigEndian.Uint16(buf[12:14]) == unix.ETH_P_8021Q {
			vlan := int(binary.BigEndian.Uint16(buf[14:16]) & 0x0fff)
			copy(buf[12:], buf[16:n])
			return n - 4, vlan, nil
		}
	}
}

// auxVLAN is the VLAN of PACKET_AUXDATA, when the frame had a tag.
func auxVLAN(oob []byte) (int, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA ||
			len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 || aux.Vlan_tci&0x0fff == 0 {
			return 0, false
		}
		return int(aux.Vlan_tci & 0x0fff), true
	}
	return 0, false
}
