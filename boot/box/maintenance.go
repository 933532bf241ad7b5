package box

import (
	"context"
	"net"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
)

// maintenanceSource names the built-in config of maintenance mode.
const maintenanceSource = "maintenance (built in)"

// MaintenanceAPI is where the API listens in maintenance mode, so that a
// config can be sent to a box that has none.
const MaintenanceAPI = ":8443"

// maintenanceYAML brings the network up by DHCP on the NIC with MAC
// uplink (the PXE boot NIC), or the first link with carrier when it is
// nil, and the API up on TCP, and runs nothing.
func maintenanceYAML(uplink net.HardwareAddr) []byte {
	sel := "  interface: auto\n"
	if uplink != nil {
		sel = "  mac: " + uplink.String() + "\n"
	}
	return []byte("# nucbox maintenance mode: no valid config was found at boot.\n" +
		"hostname: " + DefaultHostname + "\n" +
		"uplink:\n" + sel + "  bridge: br0\n  ipv4: dhcp\n" +
		"api:\n  listen: \"" + MaintenanceAPI + "\"\n")
}

func (r ConfigRecord) isMaintenance() bool { return r.Source == maintenanceSource }

// EnterMaintenance runs the box without a config of its own, for want of
// one (why): the network by DHCP (on the NIC with MAC uplink, when the
// boot loader named one), the API on TCP, nothing else, waiting for
// `nucbox apply`. It returns once the network is up, or with the reason
// it is not (then only the console and the local API socket work).
func (b *Box) EnterMaintenance(why string, uplink net.HardwareAddr) error {
	log := b.logger("maintenance: ")
	rec := NewConfigRecord(maintenanceSource, maintenanceYAML(uplink))
	cfg, err := config.Parse(rec.Source, rec.Data)
	if err != nil {
		// The built-in config is checked by the tests; this is a bug.
		log.Printf("built-in config invalid: %v", err)
		b.StartAPI(rec, nil)
		return err
	}
	b.mu.Lock()
	b.status.Phase, b.status.Stage = "maintenance", ""
	b.mu.Unlock()
	b.log.Printf("maintenance mode: no valid config (%s); bringing the network up by DHCP and waiting for a config", why)
	b.StartAPI(rec, cfg)

	sum := Summary{Config: rec.SHA256, ConfigSource: rec.Source}
	if err := b.applyConfig(context.Background(), cfg, &sum); err != nil {
		if b.shuttingDown() {
			return ErrShuttingDown
		}
		log.Printf("%v", err)
		log.Printf("the network is not up; only the console and the local API socket work")
		return err
	}
	b.mu.Lock()
	if b.status.Phase == "maintenance" {
		b.status.Summary = &sum
		b.good = &rec
	}
	b.mu.Unlock()
	addr := "ADDRESS"
	if sum.Network != nil && len(sum.Network.Addresses) > 0 {
		addr = strings.SplitN(sum.Network.Addresses[0], "/", 2)[0]
	}
	log.Printf("waiting for a config: nucbox apply --host %s%s --token TOKEN FILE (the token is on this console and in %s)", addr, MaintenanceAPI, b.credentialsDir(cfg.StateDir))
	return nil
}

// leaveMaintenance makes the box ready when a config replaced the
// maintenance one.
func (b *Box) leaveMaintenance(prev, next ConfigRecord) {
	if !prev.isMaintenance() || next.isMaintenance() {
		return
	}
	b.mu.Lock()
	if b.status.Phase != "maintenance" {
		b.mu.Unlock()
		return
	}
	b.status.Phase, b.status.Errors = "ready", nil
	var sum Summary
	if b.status.Summary != nil {
		sum = *b.status.Summary
	}
	b.mu.Unlock()
	sum.ReadyMS = b.o.Uptime().Milliseconds()
	sum.RSSKiB = rssKiB()
	b.logger("maintenance: ").Printf("left with config %s", short(next.SHA256))
	b.log.Printf("ready %s", sum.JSON())
}

// Network is the network stage's state, nil before it ran: in
// maintenance mode, the uplink a config URL is fetched over.
func (b *Box) Network() *netcfg.Status {
	n := stageOf[*networkStage](b)
	if n == nil {
		return nil
	}
	return n.status()
}
