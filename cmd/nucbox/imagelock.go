package main

import (
	"fmt"
	"os"

	"github.com/nucbox/nucbox/image/platform"
	"github.com/spf13/cobra"
)

// newImageFetchCmd fetches and unpacks the pinned platform ahead of a
// build: before going offline, or to warm a CI machine's cache once.
func newImageFetchCmd() *cobra.Command {
	var mirror, cache string
	c := &cobra.Command{
		Use:   "fetch [--mirror URL] [--cache DIR]",
		Short: "Fetch, check and unpack the pinned platform that image build uses without --kernel",
		Args:  exactFiles(0, "flags only, no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			r, err := platform.Ensure(c.Context(), platform.Options{Mirror: mirror, Cache: cache, Progress: c.ErrOrStderr()})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "pinned platform: %d packages, kernel %s, in %s\n", len(r.Lock.Packages), r.Lock.Kernel, r.Dir)
			return nil
		},
	}
	c.Flags().StringVar(&mirror, "mirror", "", "Debian mirror `URL` holding debian/ and debian-security/ (default $"+platform.MirrorEnv+" or "+platform.DefaultMirrorURL+")")
	c.Flags().StringVar(&cache, "cache", "", "`DIR` for the packages and the unpacked tree (default $XDG_CACHE_HOME/nucbox/platform)")
	return c
}

// newImageLockCmd is the maintainer's command that regenerates
// image/platform/platform.lock from the archive's indexes, or with
// --check says whether the embedded lock is still what the archive
// serves. Hidden: users build from the lock their binary embeds.
func newImageLockCmd() *cobra.Command {
	var mirror string
	var check bool
	c := &cobra.Command{
		Use:    "lock [--check] [--mirror URL]",
		Short:  "Print a new pinned-platform lock resolved from the Debian archive",
		Hidden: true,
		Args:   exactFiles(0, "flags only, no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if mirror == "" {
				mirror = platform.DefaultMirror()
			}
			if check {
				l, err := platform.Embedded()
				if err != nil {
					return err
				}
				diffs, err := platform.Check(c.Context(), nil, mirror, l)
				if err != nil {
					return err
				}
				for _, d := range diffs {
					fmt.Fprintln(c.OutOrStdout(), d)
				}
				if len(diffs) > 0 {
					return fmt.Errorf("the lock differs from the archive at %s in %d places", mirror, len(diffs))
				}
				fmt.Fprintf(c.OutOrStdout(), "%d packages: the lock is what %s serves\n", len(l.Packages), mirror)
				return nil
			}
			l, header, err := platform.Generate(c.Context(), nil, mirror)
			if err != nil {
				return err
			}
			var total int64
			for _, p := range l.Packages {
				total += p.Size
			}
			fmt.Fprintf(os.Stderr, "%d packages, %.1f MiB of .deb files, kernel %s\n", len(l.Packages), float64(total)/(1<<20), l.Kernel)
			return l.Format(c.OutOrStdout(), header)
		},
	}
	c.Flags().StringVar(&mirror, "mirror", "", "Debian mirror `URL` holding debian/ and debian-security/ (default $NUCBOX_MIRROR or "+platform.DefaultMirrorURL+")")
	c.Flags().BoolVar(&check, "check", false, "compare the embedded lock with the archive instead")
	return c
}
