package vswitch

import (
	"fmt"
	"log"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/safe"
)

// Namespace is the network namespace the box's links live in. On the
// appliance it is the initial namespace; tests pass one they created, so
// every kernel call, including the ones netlink cannot express (TUN
// ioctls, packet sockets for DHCP and ARP), is made inside it.
type Namespace struct {
	path string
	h    netns.NsHandle
}

// OpenNamespace opens the namespace at path (for example /run/netns/lab);
// an empty path means the namespace of the calling thread.
func OpenNamespace(path string) (*Namespace, error) {
	var h netns.NsHandle
	var err error
	if path == "" {
		h, err = netns.Get()
	} else {
		h, err = netns.GetFromPath(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", path, err)
	}
	return &Namespace{path: path, h: h}, nil
}

// Path is the path the namespace was opened from ("" for the current one).
func (n *Namespace) Path() string { return n.path }

// Handle is the namespace's file handle, valid until Close.
func (n *Namespace) Handle() netns.NsHandle { return n.h }

// Close releases the namespace handle; links in it are not touched.
func (n *Namespace) Close() error { return n.h.Close() }

// Netlink opens a netlink handle whose sockets live in the namespace, so it
// can be used from any goroutine. Only a route socket: the library's
// default also opens an XFRM and a netfilter one, and the kernel loads
// xfrm_user to answer the first, a tenth of a second of the boot's
// network stage under TCG for a module nothing here uses.
func (n *Namespace) Netlink() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(n.h, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %q: %w", n.path, err)
	}
	return h, nil
}

// Do runs f on an OS thread switched into the namespace. Sockets and
// devices f opens stay bound to the namespace after Do returns. The thread
// is discarded afterwards if it cannot be switched back, so no other
// goroutine ever runs in the wrong namespace.
func (n *Namespace) Do(f func() error) error {
	errc := make(chan error, 1)
	safe.Go(log.Printf, "namespace "+n.path, func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("current network namespace: %w", err)
			return // the locked thread exits with the goroutine
		}
		defer orig.Close()
		if err := netns.Set(n.h); err != nil {
			errc <- fmt.Errorf("enter network namespace %q: %w", n.path, err)
			return
		}
		ferr := safe.Call(log.Printf, f) // a panic in f is its error: Do must answer
		if err := netns.Set(orig); err != nil {
			errc <- ferr
			return // leave the thread locked: it dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	})
	return <-errc
}
