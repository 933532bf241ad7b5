package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch"
)

// newBenchNetworkCmd is `nucbox benchnet FILE`, hidden: the network
// benchmark's nucbox side (P1 of `make bench`). It brings up the network
// of a config with the calls the box's network stage makes (netcfg's
// Apply: uplink by MAC, address, takeover into the bridge, probe of the
// gateway; then vswitch's Reconcile: trunk VLANs, TAPs with their access
// VLANs), and writes a start and a done marker to /dev/kmsg around them.
//
// Why a command and not a second boot or a live apply: the benchmark runs
// nucbox and the shell scripts it is compared with several times, in
// alternating order, in one boot of one appliance, so that both sides see
// the same kernel, the same warm caches and the same clock. A live apply
// would also time the API, the config diff and the other stages; a
// command can run the same two calls again after the script has torn the
// links down. The kernel stamps both sides' markers with its own clock,
// so the two are read the same way. The firewall, which the scripts do
// not do, is left out.
func newBenchNetworkCmd() *cobra.Command {
	var resolv, mark string
	c := &cobra.Command{
		Use:    "benchnet FILE",
		Short:  "Bring up a config's network the way the box does, timed (benchmark only)",
		Hidden: true,
		Args:   exactFiles(1, "one config file"),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := compilePlan(c, args[0])
			if err != nil {
				return err
			}
			if resolv == "" {
				resolv = filepath.Join(os.TempDir(), "bench-resolv.conf")
			}
			return benchNetwork(c.Context(), c.OutOrStdout(), &p.Desired, resolv, mark)
		},
	}
	// The box's own /etc/resolv.conf is not the benchmark's to change.
	c.Flags().StringVar(&resolv, "resolv-conf", "", "file for DNS servers (default: a file in $TMPDIR)")
	c.Flags().StringVar(&mark, "mark", "nucbox", "name in the kernel log markers (nbx-bench-start NAME, nbx-bench-done NAME)")
	return c
}

func benchNetwork(ctx context.Context, out io.Writer, d *plan.Desired, resolv, mark string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := vswitch.OpenNamespace("")
	if err != nil {
		return err
	}
	defer ns.Close()
	sw, err := vswitch.Open(ns, log)
	if err != nil {
		return err
	}
	defer sw.Close()
	mgr, err := netcfg.New(netcfg.Options{Namespace: ns, Switch: sw, Logger: log, ResolvConf: resolv})
	if err != nil {
		return err
	}
	defer mgr.Close()

	if err := kmsg("nbx-bench-start " + mark); err != nil {
		return err
	}
	start := time.Now()
	st, err := mgr.Apply(ctx, d.Network)
	if err != nil {
		return fmt.Errorf("netcfg: %w", err)
	}
	vst, err := sw.Reconcile(ctx, d.Switch.WithUplink(st.Uplink))
	if err != nil {
		return fmt.Errorf("vswitch: %w", err)
	}
	took := time.Since(start)
	if err := kmsg("nbx-bench-done " + mark); err != nil {
		return err
	}
	probe := "none"
	if st.Probe != nil {
		probe = fmt.Sprintf("ok=%v attempts=%d", st.Probe.OK, st.Probe.Attempts)
	}
	fmt.Fprintf(out, "benchnet: uplink %s bridge %s ports %d probe %s in %.1f ms\n",
		st.Uplink, vst.Bridge, len(vst.Ports), probe, float64(took.Microseconds())/1000)
	return nil
}

// kmsg writes a line to the kernel log, opening it each time as a shell's
// `echo ... >/dev/kmsg` does, so both sides' markers cost the same.
func kmsg(line string) error {
	return os.WriteFile("/dev/kmsg", []byte(line+"\n"), 0)
}
