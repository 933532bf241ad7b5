package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nucbox/nucbox/boot/api"
)

func newCaptureCmd() *cobra.Command {
	var (
		r        remote
		req      api.CaptureRequest
		maxBytes string
		file     string
	)
	c := &cobra.Command{
		Use:   "capture PORT",
		Short: "Record the frames of a port of a running box as pcap",
		Long: `Record the frames that pass a port of a running box, as a pcap stream that
Wireshark and tcpdump read. PORT is VM.N or CONTAINER.N (the workload's
NIC with index N: vm1.0 is vm1's first NIC), uplink, or a link of the box
as nucbox status lists it (br0, vlan10).

The pcap goes to standard output (pipe it: nucbox capture vm1.0 | wireshark
-k -i -) or to a file with -w. It stops after --count frames, before
--max-bytes of pcap (default 64MiB, at most 1GiB), or when interrupted.
With --vlan only frames tagged with that VLAN are kept (on a trunk or the
uplink; an access port carries untagged frames).`,
		Example: `  nucbox capture vm1.0 -w vm1.pcap --count 100
  nucbox capture uplink --vlan 20 | tcpdump -n -r -
  nucbox capture web.0 --host https://192.168.1.10:8443 | wireshark -k -i -`,
		Args: exactFiles(1, "a port: VM.N, CONTAINER.N, uplink or a link name"),
		RunE: func(c *cobra.Command, args []string) error {
			if maxBytes != "" {
				n, err := parseDiskSize(maxBytes)
				if err != nil {
					return usageError{fmt.Errorf("--max-bytes: %w", err)}
				}
				req.MaxBytes = n
			}
			if req.Count < 0 {
				return usageError{errors.New("--count must be 0 (no limit) or more")}
			}
			if req.VLAN < 0 || req.VLAN > 4094 {
				return usageError{errors.New("--vlan must be a VLAN id from 1 to 4094")}
			}
			var out io.Writer = c.OutOrStdout()
			if file != "" {
				f, err := os.Create(file)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			} else if isTerminal(out) {
				return usageError{errors.New("the pcap is binary: write it to a file with -w FILE, or pipe it to wireshark -k -i - or tcpdump -r -")}
			}
			cl, err := r.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := cl.Capture(ctx, args[0], req, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "%s: %d packets, %d bytes of pcap (%s)\n", args[0], res.Packets, res.Bytes, res.Reason)
			return nil
		},
	}
	addRemoteFlags(c, &r)
	c.Flags().IntVar(&req.VLAN, "vlan", 0, "keep only frames tagged with this VLAN `ID`")
	c.Flags().IntVarP(&req.Count, "count", "c", 0, "stop after `N` frames (0: no limit)")
	c.Flags().StringVar(&maxBytes, "max-bytes", "", "stop before the pcap grows past `SIZE` (default 64MiB)")
	c.Flags().StringVarP(&file, "write", "w", "", "write the pcap to `FILE` instead of standard output")
	return c
}
