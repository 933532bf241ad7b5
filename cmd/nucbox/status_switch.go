package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nucbox/nucbox/boot/api"
)

// writePorts lists every bridge port with its counters and what its
// policy dropped, then the MAC addresses the bridges learnt; nothing
// without bridge ports.
func writePorts(b *strings.Builder, st api.Status) {
	drops := map[string]uint64{}
	if sw := st.Switch; sw != nil {
		for _, c := range sw.Policy {
			if c.Drop {
				_, link, _ := strings.Cut(c.Chain, "-")
				drops[link] += c.Packets
			}
		}
	}
	var ports []api.Link
	for _, l := range st.Links {
		if l.Master != "" {
			ports = append(ports, l)
		}
	}
	if len(ports) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PORT\tLINK\tRX BYTES\tRX PKTS\tRX DROP\tTX BYTES\tTX PKTS\tTX DROP\tPOLICY DROP")
		for _, l := range ports {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", dash(l.Port), l.Name, l.Stats.RxBytes, l.Stats.RxPackets,
				l.Stats.RxDropped, l.Stats.TxBytes, l.Stats.TxPackets, l.Stats.TxDropped, drops[l.Name])
		}
		tw.Flush()
	}
	if st.SwitchError != "" {
		fmt.Fprintf(b, "switch: %s\n", st.SwitchError)
	}
	if st.Switch == nil {
		return
	}
	port := map[string]string{}
	for _, l := range st.Links {
		port[l.Name] = l.Port
	}
	first := true
	for _, e := range st.Switch.FDB {
		if e.Local {
			continue
		}
		if first {
			b.WriteString("\nMAC table (learnt):\n")
			first = false
		}
		where := e.Port
		if p := port[e.Port]; p != "" {
			where += " (" + p + ")"
		}
		vlan := "-"
		if e.VLAN != 0 {
			vlan = fmt.Sprint(e.VLAN)
		}
		fmt.Fprintf(b, "  %s  vlan %s  %s on %s\n", e.MAC, vlan, where, e.Bridge)
	}
}
