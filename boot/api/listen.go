package api

import (
	"context"
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen opens the TCP listener of the TLS API on addr with IP_FREEBIND
// (IPV6_FREEBIND for an IPv6 socket): `listen: 10.0.0.5:8443` binds even
// while the box has no such address yet, and keeps listening when the
// address goes and comes back (a DHCP lease that changes, a VLAN address
// the network stage replaces), which binding after the network would not.
// The API also comes up before the network stage and regardless of how it
// ends, so a box whose network failed can be asked why once it is
// reachable. The firewall, not the bind, decides who reaches the port.
//
// SO_REUSEPORT lets a new listener bind before the old one closes when
// api.listen moves between addresses on the same port (:8443 to
// 10.0.0.5:8443), so the API is never without one; only root binds on
// the box, and a socket without the option still refuses it.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: listenControl}
	return lc.Listen(context.Background(), "tcp", addr)
}

func listenControl(network, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
			return
		}
		level, opt := unix.SOL_IP, unix.IP_FREEBIND
		if domain, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && domain == unix.AF_INET6 {
			level, opt = unix.SOL_IPV6, unix.IPV6_FREEBIND
		}
		serr = unix.SetsockoptInt(int(fd), level, opt, 1)
		if errors.Is(serr, unix.ENOPROTOOPT) && level == unix.SOL_IPV6 {
			// Kernels before 4.15 have no IPV6_FREEBIND; IP_FREEBIND
			// sets the same flag on an IPv6 socket.
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "setsockopt", Net: network, Err: serr}
	}
	return nil
}
