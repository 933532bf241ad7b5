package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nucbox/nucbox/image/flash"
	"github.com/spf13/cobra"
)

func newFlashCmd() *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "flash IMAGE DEVICE",
		Short: "Write a disk image to a USB stick and verify it",
		Long: `Write IMAGE (nucbox.img from 'nucbox image build --disk') to DEVICE, a
whole disk such as /dev/sdb, then read it back and compare checksums.

Before writing it shows the device (vendor, model, size) and its
partitions, and asks you to type the device's name; --yes skips the
question, for scripts. It refuses a partition (sdb1), a device with a
mounted partition, the disk the running system's / or /boot is on, a
device in use by LVM, RAID or encryption, a write-protected device and one
smaller than the image.`,
		Example: `  nucbox flash build/image/nucbox.img /dev/sdb
  nucbox flash nucbox.img /dev/disk/by-id/usb-SanDisk_Cruzer_Blade_4C53-0:0 --yes`,
		Args: exactFiles(2, "an image and a device"),
		RunE: func(c *cobra.Command, args []string) error {
			image, device := args[0], args[1]
			fi, err := os.Stat(image)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", image)
			}
			var sys flash.System
			d, err := sys.Inspect(device)
			if err != nil {
				return err
			}
			if err := sys.Check(d, fi.Size()); err != nil {
				return err
			}
			out := c.ErrOrStderr()
			fmt.Fprintf(out, "This overwrites %s\n", d.Describe())
			if len(d.Partitions) == 0 {
				fmt.Fprintln(out, "  (no partitions)")
			}
			for _, p := range d.Partitions {
				var names []string
				if p.Label != "" {
					names = append(names, "label "+p.Label)
				}
				if p.PartLab != "" {
					names = append(names, "name "+p.PartLab)
				}
				fmt.Fprintf(out, "  %-12s %10s  %s\n", p.Name, flash.Size(p.Size), strings.Join(names, ", "))
			}
			fmt.Fprintf(out, "with %s (%s). Everything on %s will be lost.\n", image, flash.Size(fi.Size()), d.Name)
			if !yes {
				fmt.Fprintf(out, "Type %s to continue: ", d.Name)
				line, _ := bufio.NewReader(c.InOrStdin()).ReadString('\n')
				if strings.TrimSpace(line) != d.Name && strings.TrimSpace(line) != d.Path {
					return fmt.Errorf("not confirmed (typed %q, not %q): nothing was written", strings.TrimSpace(line), d.Name)
				}
			}
			res, err := flash.Write(c.Context(), image, d.Path, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s to %s in %s (%s/s), verified in %s: sha256 %x\n",
				flash.Size(res.Bytes), d.Path, res.Written.Round(100*time.Millisecond),
				flash.Size(int64(float64(res.Bytes)/max(res.Written.Seconds(), 0.001))),
				res.Verified.Round(100*time.Millisecond), res.SHA256)
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask; write at once (the safety checks still apply)")
	return c
}
