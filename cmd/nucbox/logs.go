package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/spf13/cobra"
)

func newLogsCmd() *cobra.Command {
	var (
		r      remote
		follow bool
		tail   int
	)
	c := &cobra.Command{
		Use:   "logs [NAME]",
		Short: "Print a log of a running box, and follow it with -f",
		Long: `Print a log kept by a running box. Without NAME, or with NAME "boot", it is
the box's own log: what PID 1 printed on the console since boot, with the
console's timestamps (seconds since the kernel started). With the name of
a container it is the container's output (and nucbox's notes on it), with
the name of a VM the VM's serial console. With -f the command keeps
printing new lines until interrupted.

With --output json every line is one JSON object on its own line.`,
		Example: `  nucbox logs
  nucbox logs -f --tail 20
  nucbox logs web -f
  nucbox logs boot --host https://192.168.1.10:8443 --insecure --output json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("%s takes at most one log name (see '%s --help')", c.CommandPath(), c.CommandPath())}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			name := api.BootLog
			if len(args) == 1 {
				name = args[0]
			}
			if tail < -1 {
				return usageError{fmt.Errorf("--tail must be 0 or more")}
			}
			cl, err := r.client()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			write := func(l api.LogLine) error { return writeLogLine(out, l, r.output) }
			if !follow {
				lines, err := cl.Logs(c.Context(), name, tail)
				if err != nil {
					return err
				}
				for _, l := range lines {
					if err := write(l); err != nil {
						return err
					}
				}
				return nil
			}
			// An interrupt ends the command without an error; the box
			// going away (shutdown) ends it with one.
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cl.FollowLogs(ctx, name, tail, write)
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	c.Flags().IntVarP(&tail, "tail", "n", -1, "print only the last N lines held (default all)")
	return c
}

func writeLogLine(w io.Writer, l api.LogLine, format string) error {
	if format == "json" {
		b, _ := json.Marshal(l)
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(w, "[%5d.%06d] %s\n", l.Time/time.Second, (l.Time%time.Second)/time.Microsecond, l.Text)
	return err
}
