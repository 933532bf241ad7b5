package main

import (
	"fmt"

	"github.com/nucbox/nucbox/config"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check config files and report every problem with file:line:column",
		Long: `Load each config file the way the appliance does: strict YAML (unknown
fields are errors), defaults applied, then every semantic check (unique
names, VLAN ids, sizes, MACs, addresses inside their subnets, references).
All problems are reported at once, each with file:line:column and the
field's path. The exit status is 0 only when every file is valid.`,
		Example: `  nucbox validate box.yaml
  nucbox validate configs/*.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("validate needs at least one config file (see 'nucbox validate --help')")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			failed := false
			for _, path := range args {
				cfg, err := config.Load(path)
				if err != nil {
					failed = true
					writeLines(c.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: valid (hostname %s, %s, %s)\n",
					path, cfg.Hostname, count(len(cfg.VMs), "VM"), count(len(cfg.Containers), "container"))
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
}

func count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
