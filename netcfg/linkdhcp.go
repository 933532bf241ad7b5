package netcfg

import (
	"context"
	"log/slog"
	"net"

	"github.com/nucbox/nucbox/vswitch"
)

// LinkDHCP is the box's DHCPv4 client run for one link of another
// namespace, such as a container's eth0: the same acquisition, renewal
// and rebinding as the uplink's, applying the lease in that namespace and
// writing DNS to a resolv.conf of the caller's choice.
type LinkDHCP struct {
	m *Manager
	c *dhcpClient
}

// StartLinkDHCP starts the client on link inside ns. The client
// identifier is 0x01+mac; hostname is sent in requests.
func StartLinkDHCP(ns *vswitch.Namespace, link string, mac net.HardwareAddr, hostname, resolvConf string, log *slog.Logger) (*LinkDHCP, error) {
	m, err := New(Options{Namespace: ns, Logger: log, ResolvConf: resolvConf})
	if err != nil {
		return nil, err
	}
	c := newDHCPClient(m, hostname, mac)
	if err := c.start(link); err != nil {
		m.Close()
		return nil, err
	}
	m.setDHCP(c)
	return &LinkDHCP{m: m, c: c}, nil
}

// Wait blocks until a lease is applied or ctx ends.
func (d *LinkDHCP) Wait(ctx context.Context) error { return d.c.wait(ctx) }

// Lease is the client's state; nil before the first lease.
func (d *LinkDHCP) Lease() *Lease { return d.c.status() }

// Close stops the client and releases the lease.
func (d *LinkDHCP) Close() error { return d.m.Close() }
