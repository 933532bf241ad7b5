package main

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"
)

// newDebugCmd is `nucbox debug pprof PROFILE`, hidden: PID 1's heap,
// allocation, goroutine or thread profile from the API (admin only),
// written to stdout for `go tool pprof`. It is how the scale benchmark
// finds where PID 1's memory goes.
func newDebugCmd() *cobra.Command {
	debug := &cobra.Command{Use: "debug", Short: "Look inside PID 1 (developers)", Hidden: true}
	var r remote
	var level int
	var gc bool
	pp := &cobra.Command{
		Use:   "pprof PROFILE",
		Short: "Write PID 1's profile (heap, allocs, goroutine, threadcreate) to stdout",
		Args:  exactFiles(1, "a profile name"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if level > 0 {
				q.Set("debug", strconv.Itoa(level))
			}
			if gc {
				q.Set("gc", "1")
			}
			b, err := cl.Profile(c.Context(), args[0], q.Encode())
			if err != nil {
				return fmt.Errorf("profile %s: %w", args[0], err)
			}
			_, err = c.OutOrStdout().Write(b)
			return err
		},
	}
	addRemoteFlags(pp, &r)
	pp.Flags().IntVar(&level, "debug", 0, "0: pprof's protobuf; 1: text; 2: goroutines with full stacks")
	pp.Flags().BoolVar(&gc, "gc", false, "collect garbage first, so the heap's in-use figures are current")
	debug.AddCommand(pp)
	return debug
}
