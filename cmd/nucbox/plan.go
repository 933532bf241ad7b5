package main

import (
	"encoding/json"
	"fmt"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/spf13/cobra"
)

func newPlanCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what the box would create from a config, in apply order",
		Long: `Load and validate the config, apply defaults, and print every step the
appliance would take to bring it up, in the order it takes them: kernel
modules, hostname, uplink, bridge, address move, VLAN addresses, then each
VM (disks, seed, TAPs, guest) and container (image, veths, container).
Defaulted values are marked, and derived names and MACs are shown, so the
plan answers "what will this box do" before it boots.`,
		Example: `  nucbox plan box.yaml
  nucbox plan box.yaml --output json | jq '.steps[].kind'`,
		Args: exactFiles(1, "one config file"),
		RunE: func(c *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("--output must be text or json, not %q", output)}
			}
			p, err := compilePlan(c, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			return p.WriteText(c.OutOrStdout())
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

// compilePlan loads the config at path and compiles it, as the box does;
// load errors are printed, one per line, and end the command.
func compilePlan(c *cobra.Command, path string) (*plan.Plan, error) {
	cfg, err := config.Load(path)
	if err != nil {
		writeLines(c.ErrOrStderr(), err)
		return nil, errSilent
	}
	return plan.Compile(cfg)
}
