package radvd

import (
	"net"
	"time"

	"github.com/mdlayher/ndp"
)

// Timings of the adverts. The prefix and DNS lifetimes outlast three
// missed adverts, so a workload keeps its address through a restart of
// the box's loop, and lapse within the hour once the config drops the
// prefix.
const (
	// Interval is the time between unsolicited adverts (RFC 4861's
	// MaxRtrAdvInterval default is 600s; shorter lets a config change
	// reach workloads sooner).
	Interval = 200 * time.Second
	// initialInterval spaces the first adverts (MAX_INITIAL_RTR_ADVERT_INTERVAL
	// is 16s; shorter serves a booting workload sooner).
	initialInterval = 3 * time.Second
	initialAdverts  = 3

	validLifetime     = 3600 * time.Second
	preferredLifetime = 1800 * time.Second
	dnsLifetime       = 3 * Interval
	// routerLifetime is RFC 4861's default (3 x MaxRtrAdvInterval, at
	// most 9000 s), for a link the box routes (NAT66).
	routerLifetime = 3 * Interval
)

// Advert is the router advertisement for l, sent from the link whose
// hardware address is mac (nil sends no source link-layer option).
func Advert(l Link, mac net.HardwareAddr) *ndp.RouterAdvertisement {
	// Not a default router unless the box forwards the link's IPv6.
	var lifetime time.Duration
	if l.Router {
		lifetime = routerLifetime
	}
	ra := &ndp.RouterAdvertisement{
		CurrentHopLimit: 64,
		RouterLifetime:  lifetime,
		Options: []ndp.Option{&ndp.PrefixInformation{
			PrefixLength:                   uint8(l.Prefix.Bits()),
			OnLink:                         true,
			AutonomousAddressConfiguration: true,
			ValidLifetime:                  validLifetime,
			PreferredLifetime:              preferredLifetime,
			Prefix:                         l.Prefix.Masked().Addr(),
		}},
	}
	if len(l.DNS) > 0 {
		ra.Options = append(ra.Options, &ndp.RecursiveDNSServer{Lifetime: dnsLifetime, Servers: l.DNS})
	}
	if l.MTU != 0 {
		ra.Options = append(ra.Options, ndp.NewMTU(uint32(l.MTU)))
	}
	if len(mac) == 6 {
		ra.Options = append(ra.Options, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac})
	}
	return ra
}
