package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestBootStages: the boot benchmark's phases come from the console's
// stamped lines, each lasting until the next; kernel lines between them
// and the ready line's JSON do not count as phases. Pure Go.
func TestBootStages(t *testing.T) {
	console := strings.Join([]string{
		"[    0.000000] Linux version 6.1.0",
		"[    3.100000] nucbox: starting as PID 1",
		"[    3.120000] nucbox: boot: modules",
		"[    3.500000] virtio_net virtio0 enp0s2: renamed",
		"[    5.120000] nucbox: boot: data partition",
		"[    5.200000] nucbox: boot: apply\r",
		"[    5.700000] nucbox: network: ready in 400 ms",
		"[    5.900000] nucbox: boot: ready",
		"[    5.950000] nucbox: ready {\"hostname\":\"basic\"}",
		"[    6.000000] nucbox: boot: never",
	}, "\n")
	names, ms := stagesOf(console)
	got := make([]string, len(names))
	for i := range names {
		got[i] = fmt.Sprintf("%s=%.0f", names[i], ms[i])
	}
	if want := "mounts=20 modules=2000 data partition=80 apply=700 ready=50"; strings.Join(got, " ") != want {
		t.Errorf("stages %s, want %s", strings.Join(got, " "), want)
	}
}
