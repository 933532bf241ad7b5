package linksock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Control binds a socket to iface, so that it sees only what arrives
// there; for net.ListenConfig.Control. An empty iface binds to none.
func Control(iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if iface != "" {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// Index is the index of the link named name, 0 when there is none or no
// name.
func Index(name string) int {
	if name == "" {
		return 0
	}
	if ifc, err := net.InterfaceByName(name); err == nil {
		return ifc.Index
	}
	return 0
}

// Sync makes have hold a listener for every key in want: it stops those
// no longer wanted or stale (a link deleted and made again has a new
// index, and a socket bound to the old one hears nothing) and starts the
// missing ones. A key that fails to start is left out and its error
// returned with the others'.
func Sync[K comparable, L any](have map[K]L, want []K, stale func(K, L) bool, stop func(L), start func(K) (L, error)) []error {
	wanted := map[K]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	for k, l := range have {
		if !wanted[k] || stale(k, l) {
			stop(l)
			delete(have, k)
		}
	}
	var errs []error
	for k := range wanted {
		if _, ok := have[k]; ok {
			continue
		}
		l, err := start(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		have[k] = l
	}
	return errs
}

// Listener is where a box's server listens: the box's address with its
// subnet on one link (vlan10), whose name binds the sockets (empty binds
// none, for tests).
type Listener struct {
	Interface string       `json:"interface,omitempty"`
	Address   netip.Prefix `json:"address"`
}

// Bound is a listener's running sockets.
type Bound interface {
	// LinkIndex is the index of the link the sockets were bound to.
	LinkIndex() int
	Stop()
}

// SyncListeners is Sync for a server's listeners: one is stale when its
// link now has another index. what names the service in errors.
func SyncListeners[L Bound](have map[Listener]L, want []Listener, what string, start func(Listener) (L, error)) error {
	errs := Sync(have, want,
		func(l Listener, b L) bool { return Index(l.Interface) != b.LinkIndex() },
		func(b L) { b.Stop() },
		func(l Listener) (L, error) {
			b, err := start(l)
			if err != nil {
				return b, fmt.Errorf("%s on %s %s: %w", what, l.Interface, l.Address.Addr(), err)
			}
			return b, nil
		})
	return errors.Join(errs...)
}

// RefreshZones makes the net package, and golang.org/x/net's copy of its
// code, read the links' indexes again. Each turns an IPv6 zone (a link
// name) into an index through a process-wide cache that it rereads at
// most once a minute, or when asked for a name it does not know: a link
// deleted and made again under its old name (a VLAN one config removed
// and the next brought back), or the same name in another network
// namespace, keeps the old index there until then, and a socket bound or
// written with that zone fails (a bind resolves through the net
// package's cache, an ipv6.PacketConn write with a control message,
// as ndp's are, through x/net's). ndp names the zone by the link's
// name, so the box's users of it refresh, in the link's namespace,
// before they listen. No link can have a name as long as neverALink
// (IFNAMSIZ): asking for it always rereads, and the bind and the write
// made for that fail without sending anything.
func RefreshZones() {
	if c, err := net.ListenPacket("udp6", "[fe80::1%"+neverALink+"]:0"); err == nil {
		c.Close()
	}
	c, err := net.ListenPacket("udp6", "[::]:0")
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = ipv6.NewPacketConn(c).WriteTo([]byte{0}, &ipv6.ControlMessage{},
		&net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 9, Zone: neverALink})
}

const neverALink = "no-link-is-named-this"
