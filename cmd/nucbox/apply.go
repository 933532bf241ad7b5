package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/spf13/cobra"
)

func newApplyCmd() *cobra.Command {
	var (
		r      remote
		dryRun bool
	)
	c := &cobra.Command{
		Use:   "apply FILE --dry-run",
		Short: "Show what a config would change on a running box",
		Long: `Send a config to a running box, which validates it and compares it with
the config it runs: which workloads would be added, removed, changed (and
which fields) or left alone, and which network and box settings change.
Secrets (the API token, registry passwords) are not shown.

Only --dry-run is available: the box does not apply a config while
running yet. To change a box, rebuild its image or change the config it
boots from, and reboot.`,
		Example: `  nucbox apply box.yaml --dry-run
  nucbox apply box.yaml --dry-run --host https://192.168.1.10:8443 --insecure --output json`,
		Args: exactFiles(1, "one config file"),
		RunE: func(c *cobra.Command, args []string) error {
			if !dryRun {
				return usageError{errors.New("live apply is not available yet; use --dry-run to see what the config would change")}
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := r.client()
			if err != nil {
				return err
			}
			path := "/v1/plan?name=" + url.QueryEscape(filepath.Base(args[0]))
			body, err := cl.request(c.Context(), "POST", path, "application/yaml", data)
			var se *statusError
			if errors.As(err, &se) && len(se.errors) > 0 {
				// Validation errors: the same lines `nucbox validate`
				// prints, one per problem.
				for _, l := range se.errors {
					fmt.Fprintln(c.ErrOrStderr(), l)
				}
				return errSilent
			}
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			var pr api.PlanResponse
			if err := json.Unmarshal(body, &pr); err != nil {
				return fmt.Errorf("reading the plan: %w", err)
			}
			out := c.OutOrStdout()
			if pr.Running != "" {
				fmt.Fprintf(out, "running config %s, new config %s\n", short(pr.Running), short(pr.New))
			} else {
				fmt.Fprintf(out, "the box runs no config; new config %s\n", short(pr.New))
			}
			_, err = fmt.Fprint(out, pr.Text)
			return err
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show the changes without applying them (required for now)")
	return c
}
