package main

import (
	"github.com/nucbox/nucbox/config"
	"github.com/spf13/cobra"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the config file",
		Long: `Print the JSON Schema (draft 2020-12) of the nucbox config file, generated
from the same Go types the appliance loads. Point an editor's YAML language
server at it for completion and inline checks.`,
		Example: `  nucbox schema > nucbox.schema.json`,
		Args:    exactFiles(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := config.Schema()
			if err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(append(s, '\n'))
			return err
		},
	}
}
