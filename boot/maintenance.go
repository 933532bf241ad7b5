package boot

import (
	"context"
	"strings"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
)

// maintenanceSource names the built-in config of maintenance mode.
const maintenanceSource = "maintenance (built in)"

// MaintenanceAPI is where the API listens in maintenance mode, so that a
// config can be sent to a box that has none.
const MaintenanceAPI = ":8443"

// maintenanceYAML brings the network up by DHCP on the first link with
// carrier (or the PXE boot NIC) and the API up on TCP, and runs nothing.
func maintenanceYAML(bootif string) []byte {
	sel := "  interface: auto\n"
	if mac := parseBootIf(bootif); mac != nil {
		sel = "  mac: " + mac.String() + "\n"
	}
	return []byte("# nucbox maintenance mode: no valid config was found at boot.\n" +
		"hostname: " + defaultHostname + "\n" +
		"uplink:\n" + sel + "  bridge: br0\n  ipv4: dhcp\n" +
		"api:\n  listen: \"" + MaintenanceAPI + "\"\n")
}

func (r ConfigRecord) isMaintenance() bool { return r.Source == maintenanceSource }

// enterMaintenance runs the box without a config of its own: network by
// DHCP, the API on TCP, waiting for `nucbox apply`. A config URL from the
// kernel command line is retried in the background, so a rack machine
// booted before its config was written picks it up by itself.
func enterMaintenance(cl Cmdline, why string) {
	bootif, _ := cl.Get("BOOTIF")
	rec := newConfigRecord(maintenanceSource, maintenanceYAML(bootif))
	cfg, err := config.Parse(rec.Source, rec.Data)
	if err != nil {
		// The built-in config is checked by the tests; this is a bug.
		Logf("maintenance: built-in config invalid: %v", err)
		startAPI(rec, nil)
		return
	}
	statusMu.Lock()
	status.Phase, status.Stage = "maintenance", ""
	statusMu.Unlock()
	Logf("maintenance mode: no valid config (%s); bringing the network up by DHCP and waiting for a config", why)
	startAPI(rec, cfg)

	sum := Summary{Config: rec.SHA256, ConfigSource: rec.Source}
	if err := theSupervisor.applyConfig(context.Background(), cfg, &sum); err != nil {
		if shuttingDown() {
			return
		}
		Logf("maintenance: %v", err)
		Logf("maintenance: the network is not up; only the console and the local API socket work")
		return
	}
	statusMu.Lock()
	if status.Phase == "maintenance" {
		status.Summary = &sum
		lastGood = &rec
	}
	statusMu.Unlock()
	addr := "ADDRESS"
	if sum.Network != nil && len(sum.Network.Addresses) > 0 {
		addr = strings.SplitN(sum.Network.Addresses[0], "/", 2)[0]
	}
	Logf("maintenance: waiting for a config: nucbox apply --host %s%s --token TOKEN FILE (the token is on this console and in %s)", addr, MaintenanceAPI, cfg.StateDir)
	if spec, _ := cl.Get("nucbox.config"); strings.Contains(spec, "://") {
		goSafe("maintenance", func() { retryConfigURL(cl) })
	}
}

// retryConfigURL keeps fetching the kernel command line's config URL while
// the box is in maintenance mode and applies the first valid config.
func retryConfigURL(cl Cmdline) {
	spec, _ := cl.Get("nucbox.config")
	src, err := cmdlineSource(cl, spec)
	if err != nil {
		return
	}
	u, ok := src.(*urlSource)
	if !ok {
		return
	}
	// The box's own network is up now: no temporary lease.
	u.lease = func(context.Context, string) (bootLease, error) { return runningLease{}, nil }
	for wait := 30 * time.Second; ; wait = min(2*wait, 5*time.Minute) {
		time.Sleep(wait)
		if CurrentStatus().Phase != "maintenance" {
			return
		}
		name, data, err := u.Fetch(context.Background())
		if err != nil {
			Logf("maintenance: %v; next try in %s", err, min(2*wait, 5*time.Minute))
			continue
		}
		if _, err := config.Parse(name, data); err != nil {
			Logf("maintenance: %s is invalid: %v", name, err)
			continue
		}
		if _, err := theSupervisor.Apply(context.Background(), newConfigRecord(name, data), 0); err != nil {
			Logf("maintenance: applying %s: %v", name, err)
			continue
		}
		return
	}
}

// runningLease fills the URL template from the running network.
type runningLease struct{}

func (runningLease) Vars() map[string]string {
	v := map[string]string{"uuid": machineUUID(), "hostname": defaultHostname}
	if st := theNetwork(); st != nil {
		v["mac"] = st.UplinkMAC.String()
		if st.Lease != nil && st.Lease.Hostname != "" {
			v["hostname"] = st.Lease.Hostname
		}
	}
	return v
}

func (runningLease) Close() error { return nil }

// leaveMaintenance makes the box ready when a config replaced the
// maintenance one.
func leaveMaintenance(prev, next ConfigRecord) {
	if !prev.isMaintenance() || next.isMaintenance() {
		return
	}
	statusMu.Lock()
	if status.Phase != "maintenance" {
		statusMu.Unlock()
		return
	}
	status.Phase, status.Errors = "ready", nil
	var sum Summary
	if status.Summary != nil {
		sum = *status.Summary
	}
	statusMu.Unlock()
	sum.ReadyMS = ms(sinceBoot())
	sum.RSSKiB = rssKiB()
	Logf("maintenance: left with config %s", short(next.SHA256))
	Logf("ready %s", sum.JSON())
}

// theNetwork is the network stage's state, nil before it ran.
func theNetwork() *netcfg.Status {
	for _, st := range theSupervisor.stages {
		if n, ok := st.(*networkStage); ok {
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.mgr == nil {
				return nil
			}
			s := n.mgr.Status()
			return &s
		}
	}
	return nil
}
