package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newPortCmd is `nucbox port enable NAME`.
func newPortCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "port",
		Short: "Manage the switch ports of a running box",
	}
	var r remote
	enable := &cobra.Command{
		Use:   "enable NAME",
		Short: "Put an err-disabled port back into forwarding",
		Long: `Put a workload port that a guard took out of forwarding back into
forwarding, as 'no shutdown' does on a switch. A port whose BPDU guard
drops a BPDU (a spanning-tree frame from a VM or container) is
err-disabled: it forwards nothing either way until this command or the
workload's restart. nucbox status lists the err-disabled ports.

NAME is WORKLOAD.N, the workload's Nth NIC (web.0), or its link.`,
		Example: "  nucbox port enable web.0\n  nucbox port enable ubuntu1.1 --host https://192.168.1.10:8443 --token $TOKEN --insecure",
		Args:    exactFiles(1, "the name of a port (WORKLOAD.N)"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			pr, body, err := cl.EnablePort(c.Context(), args[0])
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			if pr.Was == nil {
				fmt.Fprintf(c.OutOrStdout(), "port %s: forwarding (it was not err-disabled)\n", pr.Port)
				return nil
			}
			fmt.Fprintf(c.OutOrStdout(), "port %s: forwarding again (err-disabled since %s: %s from %s)\n",
				pr.Port, pr.Was.Since.UTC().Format(time.RFC3339), pr.Was.Reason, dash(pr.Was.Source))
			return nil
		},
	}
	addRemoteFlags(enable, &r)
	c.AddCommand(enable)
	return c
}
