package netcfg

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// watchLinks calls check now and after every link event (RTM_NEWLINK,
// RTM_DELLINK) in the namespace until it reports done, fails, or ctx
// ends. The tick re-checks time-based conditions and covers events lost to
// a full socket buffer.
func (m *Manager) watchLinks(ctx context.Context, tick time.Duration, check func() (bool, error)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	ns := m.ns.Handle()
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		Namespace:     &ns,
		ErrorCallback: func(error) {},
	})
	if err != nil {
		return fmt.Errorf("subscribe to link events: %w", err)
	}
	defer func() {
		close(done)
		for range ch {
		}
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		ok, err := check()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		drain:
			for {
				select {
				case <-ch:
				default:
					break drain
				}
			}
		case <-t.C:
		}
	}
}

// carrier is the kernel's immediate carrier bit; operUp is the operational
// state, which the kernel's link-state work updates up to a second later
// and which is what the bridge looks at when a port joins.
func carrier(l netlink.Link) bool { return l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0 }

func operUp(l netlink.Link) bool {
	s := l.Attrs().OperState
	return carrier(l) && (s == netlink.OperUp || s == netlink.OperUnknown)
}

// waitOperUp waits until the link's operational state is up.
func (m *Manager) waitOperUp(ctx context.Context, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last netlink.Link
	err := m.watchLinks(ctx, 50*time.Millisecond, func() (bool, error) {
		l, err := m.h.LinkByName(name)
		if err != nil {
			return false, err
		}
		last = l
		return operUp(l), nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%s: operational state %s after %s: %w", name, last.Attrs().OperState, timeout, err)
	}
	return err
}
