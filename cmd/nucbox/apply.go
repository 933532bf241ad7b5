package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/spf13/cobra"
)

func newApplyCmd() *cobra.Command {
	var (
		r       remote
		dryRun  bool
		confirm bool
		try     time.Duration
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "apply FILE [--dry-run | --try DURATION] | apply --confirm",
		Short: "Change the config of a running box",
		Long: `Send a config to a running box, which validates it, compares it with the
config it runs and applies it: which workloads are added, removed, changed
(and which fields) or left alone, and which network and box settings
change, is printed first. Workloads the new config leaves alone keep
running with the same process and restart count. Secrets (the API token,
registry passwords) are not shown.

If applying fails, the box goes back to the config it ran, and the command
fails with the reason.

--dry-run only shows the changes. --try DURATION applies the config on
trial: unless 'nucbox apply --confirm' follows within DURATION, the box
goes back to the previous config by itself, which saves a box whose new
network config cut off the person applying it. While a try waits for its
confirmation, the box refuses other applies.

The box answers when the apply is done, after every new workload started;
the command waits up to --timeout for it (10 minutes by default), showing
how long it has waited when stderr is a terminal.`,
		Example: `  nucbox apply box.yaml --dry-run
  nucbox apply box.yaml
  nucbox apply box.yaml --try 2m --host https://192.168.1.10:8443 --fingerprint SHA256
  nucbox apply --confirm --host https://192.168.1.10:8443 --fingerprint SHA256`,
		Args: func(c *cobra.Command, args []string) error {
			if confirm {
				if len(args) != 0 || dryRun || try != 0 {
					return usageError{errors.New("--confirm takes no file and no --dry-run or --try")}
				}
				return nil
			}
			if dryRun && try != 0 {
				return usageError{errors.New("--dry-run and --try do not go together")}
			}
			if timeout <= 0 {
				return usageError{errors.New("--timeout needs a positive duration, such as 10m")}
			}
			if c.Flags().Changed("try") && try <= 0 {
				return usageError{errors.New("--try needs a positive duration, such as 2m")}
			}
			return exactFiles(1, "one config file")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if confirm {
				ts, body, err := cl.Confirm(c.Context())
				if err != nil {
					return err
				}
				if r.output == "json" {
					return printJSON(out, body)
				}
				_, err = fmt.Fprintf(out, "confirmed: the box keeps config %s\n", short(ts.Config))
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			name := filepath.Base(args[0])
			var (
				ar   api.ApplyResponse
				body []byte
			)
			if dryRun {
				ar.PlanResponse, body, err = cl.Plan(c.Context(), name, data)
			} else {
				ctx, cancel := context.WithTimeout(c.Context(), timeout)
				stop := func() {}
				if isTerminal(c.ErrOrStderr()) {
					stop = waiting(c.ErrOrStderr(), "applying", time.Second)
				}
				ar, body, err = cl.Apply(ctx, name, data, try)
				stop()
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("the box did not answer within --timeout %v; it may still be applying (see nucbox status): %w", timeout, err)
				}
			}
			var he *api.HTTPError
			if errors.As(err, &he) && len(he.Errors) > 0 {
				// Validation errors: the same lines `nucbox validate`
				// prints, one per problem.
				for _, l := range he.Errors {
					fmt.Fprintln(c.ErrOrStderr(), l)
				}
				return errSilent
			}
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(out, body)
			}
			if err := writePlan(out, ar.PlanResponse); err != nil || dryRun {
				return err
			}
			return writeApplied(out, ar.Result)
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show the changes without applying them")
	c.Flags().DurationVar(&try, "try", 0, "apply on trial: go back to the previous config unless confirmed within `DURATION`")
	c.Flags().BoolVar(&confirm, "confirm", false, "keep the config of the pending --try")
	c.Flags().DurationVar(&timeout, "timeout", applyTimeout, "how long to wait for the box to finish applying")
	return c
}

func writePlan(out io.Writer, pr api.PlanResponse) error {
	if pr.Running != "" {
		fmt.Fprintf(out, "running config %s, new config %s\n", short(pr.Running), short(pr.New))
	} else {
		fmt.Fprintf(out, "the box runs no config; new config %s\n", short(pr.New))
	}
	_, err := fmt.Fprint(out, pr.Text)
	return err
}

func writeApplied(out io.Writer, res api.ApplyResult) error {
	if res.Try == nil {
		_, err := fmt.Fprintf(out, "applied: the box runs config %s\n", short(res.Config))
		return err
	}
	_, err := fmt.Fprintf(out, "applied on trial: the box runs config %s until %s; confirm with 'nucbox apply --confirm' or it goes back to %s\n",
		short(res.Config), res.Try.Deadline.UTC().Format("15:04:05 UTC"), short(res.Try.Previous))
	return err
}
