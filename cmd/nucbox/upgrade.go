package main

import (
	"fmt"
	"os"

	"github.com/nucbox/nucbox/image/flash"
	"github.com/spf13/cobra"
)

func newUpgradeCmd() *cobra.Command {
	var (
		r        remote
		tries    int
		noReboot bool
	)
	c := &cobra.Command{
		Use:   "upgrade FILE.efi [--tries N] [--no-reboot]",
		Short: "Install a new image on a box booted from its disk, on trial, with automatic rollback",
		Long: `Send a unified kernel image (nucbox image build --uki) to a running box
that booted from its USB stick or disk. The box writes it into the boot
slot it is not running from (A or B) with a boot counter of --tries, and
reboots into it unless --no-reboot is given.

The new image is on trial: once it reaches ready it becomes the default.
If it fails before ready (a kernel that does not boot, a config stage
that fails, or nothing ready within nucbox.trial-timeout, 10 minutes by
default) the box reboots, and after --tries failed boots the boot loader
goes back to the slot that ran before, by itself. The last known good
config on the data partition is kept across the upgrade.`,
		Example: `  nucbox image build --config box.yaml --uki -o out
  nucbox upgrade out/nucbox.efi --host https://192.168.1.10:8443 --fingerprint SHA256
  nucbox upgrade out/nucbox.efi --tries 1 --no-reboot`,
		Args: exactFiles(1, "one unified kernel image (.efi)"),
		RunE: func(c *cobra.Command, args []string) error {
			if tries < 1 || tries > 9 {
				return usageError{fmt.Errorf("--tries %d: want 1 to 9", tries)}
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			cl, err := r.client()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "sending %s (%s)...\n", args[0], flash.Size(int64(len(data))))
			res, body, err := cl.Upgrade(c.Context(), data, tries, !noReboot)
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "slot %s: %s (version %s, generation %d), %d boot tries\n", res.Slot, res.File, res.Version, res.Generation, res.Tries)
			if res.Rebooting {
				fmt.Fprintf(out, "The box is rebooting into slot %s; it goes back to slot %s by itself if the new image does not get ready.\n", res.Slot, res.From)
			} else {
				fmt.Fprintf(out, "The next boot tries slot %s (nucbox reboot).\n", res.Slot)
			}
			return nil
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().IntVar(&tries, "tries", 3, "boots the new image gets to reach ready before the box goes back to the old one")
	c.Flags().BoolVar(&noReboot, "no-reboot", false, "write the image but do not reboot now")
	return c
}
