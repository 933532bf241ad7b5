package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/spf13/cobra"
)

// newWorkloadCmd is `nucbox start|stop|restart NAME`.
func newWorkloadCmd(action api.WorkloadAction) *cobra.Command {
	var r remote
	var short, long string
	switch action {
	case api.WorkloadStart:
		short = "Start a VM or container that was stopped"
		long = `Start a VM or container of a running box that was stopped with nucbox
stop (or that ended and was not restarted by its policy). The command
returns once the workload runs, or its start failed and is retried by its
restart policy.`
	case api.WorkloadStop:
		short = "Stop a VM or container and keep it stopped"
		long = `Stop a VM or container of a running box, as at power-off: a VM gets an
ACPI shutdown (then quit, then kill after its shutdown-timeout), a
container SIGTERM (SIGKILL after its stop-timeout). It stays stopped, not
restarted by its restart policy nor by an apply that leaves it unchanged,
until nucbox start. The command returns once it has stopped.`
	case api.WorkloadRestart:
		short = "Restart a VM or container"
		long = `Restart a VM or container of a running box: stop it as nucbox stop does,
unless it is stopped already, and start it again. The restart is counted
in its restart count.`
	}
	c := &cobra.Command{
		Use:     string(action) + " NAME",
		Short:   short,
		Long:    long + "\n\nNAME is a VM or container of the box's config (nucbox status lists them).",
		Example: fmt.Sprintf("  nucbox %s web\n  nucbox %s ubuntu1 --host https://192.168.1.10:8443 --token $TOKEN --insecure", action, action),
		Args:    exactFiles(1, "the name of a VM or container"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			wr, body, err := cl.Control(ctx, args[0], action)
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			w := wr.Workload
			fmt.Fprintf(c.OutOrStdout(), "%s %s: %s, restarts %d\n", w.Kind, w.Name, stateText(w), w.Restarts)
			if w.LastError != "" && w.State != "running" {
				fmt.Fprintf(c.OutOrStdout(), "last error: %s\n", w.LastError)
			}
			return nil
		},
	}
	addRemoteFlags(c, &r)
	return c
}

func newStartCmd() *cobra.Command   { return newWorkloadCmd(api.WorkloadStart) }
func newStopCmd() *cobra.Command    { return newWorkloadCmd(api.WorkloadStop) }
func newRestartCmd() *cobra.Command { return newWorkloadCmd(api.WorkloadRestart) }

// stateText is a workload's state, with a stop on request said so.
func stateText(w api.Workload) string {
	if w.Held {
		return w.State + " (held)"
	}
	return w.State
}
