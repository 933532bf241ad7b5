package dhcpd

import (
	"net"
	"syscall"
)

// maxBatch bounds the messages answered under one save of the leases.
const maxBatch = 32

// drain adds to msgs the messages already queued on conn, without
// waiting for more, up to one per buffer: a burst of requests (many
// clients booting at once) is then answered under one write of the
// leases file, whose sync is the costly part of an ACK, instead of one
// write per ACK. A socket that cannot be read without blocking gives
// batches of one.
func drain(conn net.PacketConn, bufs [][]byte, msgs [][]byte) [][]byte {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return msgs
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return msgs
	}
	for len(msgs) < len(bufs) {
		buf := bufs[len(msgs)]
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true // never wait: an empty queue ends the batch
		})
		if err != nil || rerr != nil {
			break
		}
		msgs = append(msgs, buf[:n])
	}
	return msgs
}
