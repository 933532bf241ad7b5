package main

import (
	"slices"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

// bakedModules are the kernel modules an image carries for its config:
// the config's own, and those of its overlays and bond (ip_gre, bonding),
// which come along only for a config that uses them.
func bakedModules(cfg *config.Config) []string {
	return append(slices.Clone(cfg.Modules), plan.OverlayModules(cfg)...)
}
