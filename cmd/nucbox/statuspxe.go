package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nucbox/nucbox/boot/api"
)

// writePXE shows the box as its rack's boot server and the machines it
// heard from; one that asked for its config and had none is in
// maintenance mode, waiting for nucbox apply --host.
func writePXE(b *strings.Builder, st api.Status) {
	p := st.PXE
	if p == nil {
		return
	}
	where := p.Interface
	if where == "" {
		where = "the uplink"
	}
	fmt.Fprintf(b, "\nPXE server on %s (VLAN %d, %s, %s): configs in %s\n", where, p.VLAN, p.Address, p.Mode, p.Configs)
	if p.Error != "" {
		fmt.Fprintf(b, "  not serving: %s\n", p.Error)
	} else {
		fmt.Fprintf(b, "  bundle: %s\n", p.Bundle)
	}
	if len(p.Machines) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PXE MACHINE\tADDRESS\tCONFIG\tFIRST SEEN\tLAST SEEN")
	for _, m := range p.Machines {
		cfg := "served"
		switch {
		case !m.Asked:
			cfg = "booting (" + m.Via + ")"
		case !m.Config:
			cfg = "none: in maintenance mode"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MAC, dash(m.Address), cfg, clock(m.FirstSeen), clock(m.LastSeen))
	}
	tw.Flush()
}
