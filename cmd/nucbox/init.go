package main

import (
	"errors"

	// nsenter's C constructor joins and creates the namespaces before the
	// Go runtime starts in the re-executed `nucbox init`.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/spf13/cobra"

	"github.com/nucbox/nucbox/containers"
)

// The container init runs before main: in its new PID namespace it is PID
// 1, and main would start the box's boot sequence.
func init() {
	if containers.IsInit() {
		containers.Init()
	}
}

// newInitCmd is listed so that `nucbox init` is a known command; it is
// only meaningful when libcontainer runs it, which init above handles.
func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:    containers.InitArg,
		Short:  "Container init (run by the container runtime, not by hand)",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("nucbox init is run by the container runtime only")
		},
	}
}
