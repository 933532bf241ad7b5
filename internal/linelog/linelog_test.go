package linelog

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// While a caller applies, a package's progress lines are dropped (the
// caller sums them up) but warnings pass; afterwards, DHCP renewals show.
func TestQuiet(t *testing.T) {
	var out strings.Builder
	printf := func(format string, args ...any) { fmt.Fprintf(&out, "network: "+format+"\n", args...) }
	var quiet atomic.Bool
	log := New(printf, &quiet).With("dhcp", "v4")
	quiet.Store(true)
	log.Info("DHCP lease acquired")
	log.Warn("connectivity lost", "reason", "no ARP reply")
	quiet.Store(false)
	log.Info("DHCP lease renewed", "address", "10.0.2.15/24")
	log.Debug("vswitch")
	got := out.String()
	for _, w := range []string{"network: warn: connectivity lost dhcp=v4 reason=no ARP reply",
		"network: DHCP lease renewed dhcp=v4 address=10.0.2.15/24"} {
		if !strings.Contains(got, w) {
			t.Errorf("log lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "acquired") || strings.Contains(got, "vswitch") {
		t.Errorf("quiet or debug line shown:\n%s", got)
	}
}
