package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// errSilent reports failure after the command has already printed why.
var errSilent = errors.New("failed")

// usageError marks mistakes in the command line itself (exit status 2), as
// opposed to a config or build that failed (exit status 1).
type usageError struct{ error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "nucbox",
		Short: "A lab box in one binary: bridge, VLANs, QEMU guests and containers from one config",
		Long: `nucbox is the init (PID 1) of a small bootable image and the command line
that prepares it. From one YAML config the appliance brings up a bridge,
moves the uplink address onto it, creates TAPs and veths on per-port VLANs,
runs QEMU guests and OCI containers, and keeps all of it running.

On a laptop or build machine the same binary checks a config (validate),
shows what the box would create (plan), prints the config's JSON Schema
(schema) and builds bootable images (image build).`,
		Example: `  nucbox validate box.yaml
  nucbox plan box.yaml --output json
  nucbox image build --config box.yaml -o out/`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate("nucbox {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(newValidateCmd(), newPlanCmd(), newSchemaCmd(), newImageCmd(), newVersionCmd(), newInitCmd(), newStatusCmd(), newLogsCmd(), newPowerOffCmd(), newRebootCmd(), newApplyCmd(),
		newStartCmd(), newStopCmd(), newRestartCmd(), newPortCmd(), newConsoleCmd(), newVNCCmd(), newCaptureCmd(), newFlashCmd(), newUpgradeCmd(), newConfigCmd(), newSecureBootCmd(),
		newRunCmd(), newTestCmd(), newBenchNetworkCmd(), newDebugCmd())
	return root
}

// exactFiles is cobra.ExactArgs with a message that names what is missing.
func exactFiles(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s needs %s (see '%s --help')", c.CommandPath(), what, c.CommandPath())}
		}
		return nil
	}
}

// writeLines prints an error that may span lines (a config error list) with
// every line on its own.
func writeLines(w io.Writer, err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintln(w, line)
	}
}
