package box

import (
	"net"
	"testing"

	"github.com/nucbox/nucbox/config"
)

func TestMaintenanceConfigIsValid(t *testing.T) {
	for _, mac := range []net.HardwareAddr{nil, {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}} {
		cfg, err := config.Parse("maintenance", maintenanceYAML(mac))
		if err != nil {
			t.Fatalf("uplink %v: %v", mac, err)
		}
		if cfg.API.Listen != MaintenanceAPI || len(cfg.VMs) != 0 || len(cfg.Containers) != 0 {
			t.Errorf("maintenance config: api %q, %d VMs, %d containers", cfg.API.Listen, len(cfg.VMs), len(cfg.Containers))
		}
		if mac != nil && cfg.Uplink.MAC != "52:54:00:12:34:56" {
			t.Errorf("uplink %v: uplink mac %q", mac, cfg.Uplink.MAC)
		}
	}
}
