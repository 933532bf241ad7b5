package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/netcfg/lldp"
	"github.com/nucbox/nucbox/netcfg/timesync"
	"github.com/spf13/cobra"
)

// now is the clock for uptimes; tests fix it.
var now = time.Now

func newStatusCmd() *cobra.Command {
	var r remote
	c := &cobra.Command{
		Use:   "status",
		Short: "Show a running box: phase, boot timeline, links and workloads",
		Long: `Ask a running box for its state: its phase (booting, ready, failed,
shutting down), the boot timeline and config version, its network links
with addresses, bridge ports and VLANs, and every VM and container with its
state, PID, uptime and restart count.

On the box, status uses the local API socket (root only). From elsewhere,
give --host and the token that the box printed on its console.`,
		Example: `  nucbox status
  nucbox status --host https://192.168.1.10:8443 --token $TOKEN --fingerprint AB:CD:...
  NUCBOX_TOKEN=... nucbox status --host 192.168.1.10:8443 --insecure --output json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := r.client()
			if err != nil {
				return err
			}
			st, body, err := cl.Status(c.Context())
			if err != nil {
				return err
			}
			if r.output == "json" {
				return printJSON(c.OutOrStdout(), body)
			}
			return writeStatus(c.OutOrStdout(), st)
		},
	}
	addRemoteFlags(c, &r)
	return c
}

// bootSummary is the part of the ready line the status shows.
type bootSummary struct {
	InitMS  int64 `json:"init_ms"`
	ReadyMS int64 `json:"ready_ms"`
	RSSKiB  int64 `json:"rss_kib"`
	Modules int   `json:"modules"`
	// EntropyReadyMS is when the kernel's random pool became ready.
	EntropyReadyMS int64  `json:"entropy_ready_ms"`
	EntropySeed    string `json:"entropy_seed"`
}

func writeStatus(w io.Writer, st api.Status) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", st.Hostname, st.Phase)
	if st.Stage != "" {
		fmt.Fprintf(&b, " (stage %s)", st.Stage)
	}
	b.WriteString("\n")
	for _, e := range st.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if st.Config != nil {
		fmt.Fprintf(tw, "config\t%s\t(%s)\n", short(st.Config.SHA256), st.Config.Source)
	}
	if t := st.Try; t != nil {
		fmt.Fprintf(tw, "on trial\t%s\tgoes back to %s at %s unless confirmed (nucbox apply --confirm)\n",
			short(t.Config), short(t.Previous), t.Deadline.UTC().Format("15:04:05 UTC"))
	}
	if sl := st.Slot; sl != nil {
		line := fmt.Sprintf("slot %s, generation %d", sl.Slot, sl.Generation)
		if sl.Version != "" {
			line += ", nucbox " + sl.Version
		}
		if sl.Trial {
			line += ", on trial until ready"
		}
		fmt.Fprintf(tw, "image\t%s\n", line)
		if sl.RolledBack != "" {
			fmt.Fprintf(tw, "upgrade\t%s\n", sl.RolledBack)
		}
	}
	if st.SecureBoot != "" {
		fmt.Fprintf(tw, "secure boot\t%s\n", st.SecureBoot)
	}
	if d := st.Data; d != nil {
		fmt.Fprintf(tw, "data\t%s\n", dataText(*d))
	}
	if t := st.Time; t != nil {
		fmt.Fprintf(tw, "time\t%s\n", timeText(*t))
	}
	for _, n := range st.Neighbors {
		fmt.Fprintf(tw, "switch\t%s\n", neighborText(n))
	}
	for _, r := range st.VLANCheck {
		fmt.Fprintf(tw, "vlan %d\t%s\n", r.VLAN, r)
	}
	for _, p := range st.ErrDisabled {
		fmt.Fprintf(tw, "port %s\terr-disabled since %s: %s from %s (nucbox port enable %s)\n", p.Port, p.Since.UTC().Format(time.RFC3339), p.Reason, dash(p.Source), p.Port)
	}
	if bd := st.UplinkBond; bd != nil {
		fmt.Fprintf(tw, "bond\t%s\n", bondLine(*bd))
	}
	for _, t := range st.Overlays {
		fmt.Fprintf(tw, "overlay\t%s\n", overlayLine(t))
	}
	if l := st.Logging; l != nil {
		fmt.Fprintf(tw, "logging\t%s\n", loggingText(*l))
	}
	fmt.Fprintf(tw, "uptime\t%s\n", roundDuration(time.Duration(st.Uptime)))
	var sum bootSummary
	if len(st.Summary) > 0 && json.Unmarshal(st.Summary, &sum) == nil {
		fmt.Fprintf(tw, "boot\tPID 1 at %d ms, ready at %d ms, RSS %d KiB, %d modules\n", sum.InitMS, sum.ReadyMS, sum.RSSKiB, sum.Modules)
		if sum.EntropySeed != "" {
			fmt.Fprintf(tw, "entropy\trandom pool ready at %d ms (seed %s)\n", sum.EntropyReadyMS, sum.EntropySeed)
		}
	}
	tw.Flush()

	b.WriteString("\n")
	if st.LinkError != "" {
		fmt.Fprintf(&b, "links: %s\n", st.LinkError)
	}
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tTYPE\tSTATE\tMASTER\tVLANS\tMAC\tADDRESSES")
	for _, l := range st.Links {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Type, l.State, dash(l.Master), dash(vlanText(l.VLANs)), dash(l.MAC), dash(strings.Join(l.Addresses, ", ")))
	}
	tw.Flush()

	b.WriteString("\n")
	if len(st.Workloads) == 0 {
		b.WriteString("No workloads.\n")
	} else {
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tNAME\tSTATE\tPID\tUPTIME\tRESTARTS\tADDRESSES\tLAST ERROR")
		for _, wl := range st.Workloads {
			pid, up := "-", "-"
			if wl.PID > 0 {
				pid = fmt.Sprint(wl.PID)
			}
			if !wl.Started.IsZero() {
				up = roundDuration(now().Sub(wl.Started))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", wl.Kind, wl.Name, stateText(wl), pid, up, wl.Restarts, dash(strings.Join(wl.Addresses, ", ")), dash(wl.LastError))
		}
		tw.Flush()
	}
	writePorts(&b, st)
	writeLimits(&b, st)
	writeScreens(&b, st)
	writeLeases(&b, st)
	writeServed(&b, st)
	writePXE(&b, st)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeScreens says where the VMs' screens are: API routes, never a TCP
// port; nothing when no VM has one.
func writeScreens(b *strings.Builder, st api.Status) {
	first := true
	for _, wl := range st.Workloads {
		route := wl.Details["vnc"]
		if wl.Kind != "vm" || route == "" {
			continue
		}
		if first {
			b.WriteString("\n")
			first = false
		}
		fmt.Fprintf(b, "screen of %s: %s over the API (nucbox vnc %s, or the web page)\n", wl.Name, route, wl.Name)
	}
}

// writeLeases lists the DHCP leases, the box's own first; nothing when
// there are none.
func writeLeases(b *strings.Builder, st api.Status) {
	type row struct {
		who string
		l   api.Lease
	}
	var rows []row
	if l := st.UplinkLease; l != nil {
		rows = append(rows, row{"uplink", *l})
	}
	if l := st.UplinkLease6; l != nil {
		rows = append(rows, row{"uplink (DHCPv6)", *l})
	}
	for _, wl := range st.Workloads {
		for _, l := range wl.Leases {
			rows = append(rows, row{wl.Kind + " " + wl.Name, l})
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DHCP LEASE\tLINK\tADDRESS\tSERVER\tSTATE\tOBTAINED\tRENEWS\tEXPIRES")
	for _, r := range rows {
		l := r.l
		state := l.State
		if l.LastError != "" {
			state += " (" + l.LastError + ")"
		}
		expires := "never"
		if !l.Expiry.IsZero() {
			expires = when(l.Expiry)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.who, dash(l.Link), dash(l.Address), dash(l.Server), dash(state),
			clock(l.Obtained), when(l.Renew), expires)
	}
	tw.Flush()
}

// writeServed lists the leases the box's DHCP server gave; nothing when
// it gave none.
func writeServed(b *strings.Builder, st api.Status) {
	if len(st.ServedLeases) == 0 {
		return
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVED LEASE\tVLAN\tMAC\tADDRESS\tEXPIRES")
	for _, l := range st.ServedLeases {
		who := l.Name
		if who == "" {
			who = l.Hostname
		}
		exp := when(l.Expires)
		switch {
		case l.Fixed:
			exp += " (fixed)"
		case !l.Active:
			exp = "expired " + clock(l.Expires)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", dash(who), l.VLAN, l.MAC, l.Address, exp)
	}
	tw.Flush()
}

// clock is a time of day in UTC, - for none.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05 UTC")
}

// when is a time to come as "in 29m (03:34:05 UTC)", or its clock time
// alone once past.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now())
	if d < 0 {
		return clock(t) + " (past)"
	}
	return "in " + roundDuration(d) + " (" + clock(t) + ")"
}

func vlanText(vs []api.PortVLAN) string {
	var parts []string
	for _, v := range vs {
		s := fmt.Sprint(v.ID)
		if v.PVID {
			s += " pvid"
		}
		if v.Untagged {
			s += " untagged"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// roundDuration shows a duration to the second, or to the minute past
// an hour.
func roundDuration(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// writeLimits lists the workloads that ran into a limit, and the
// workloads' parent group when its own limit was reached; nothing when
// none did.
func writeLimits(b *strings.Builder, st api.Status) {
	var rows [][2]string
	add := func(who string, h *api.LimitHits) {
		if h == nil || !h.Any() {
			return
		}
		var parts []string
		if m := h.Memory; m.Max > 0 || m.OOMKill > 0 {
			parts = append(parts, fmt.Sprintf("memory %s: reached %d times, %d OOM kills", limitText(m.Limit, true), m.Max, m.OOMKill))
		}
		if p := h.PIDs; p.Max > 0 {
			parts = append(parts, fmt.Sprintf("pids %s: %d forks refused", limitText(p.Limit, false), p.Max))
		}
		rows = append(rows, [2]string{who, strings.Join(parts, "; ")})
	}
	add("all workloads", st.WorkloadLimits)
	for _, wl := range st.Workloads {
		add(wl.Kind+" "+wl.Name, wl.Limits)
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT HIT\tCOUNTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func limitText(n int64, bytes bool) string {
	switch {
	case n <= 0:
		return "max"
	case bytes:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprint(n)
}

// dataText is the data partition in one line: where and how full, or
// why it is not mounted.
func dataText(d api.DataPartition) string {
	switch d.State {
	case api.DataMounted:
		s := fmt.Sprintf("%s on %s", d.Device, d.MountPoint)
		if d.FS != "" {
			s += ", " + d.FS
		}
		if d.Size > 0 {
			s += fmt.Sprintf(", %s, %s free", sizeText(d.Size), sizeText(d.Free))
		}
		if d.Note != "" {
			s += "; " + d.Note
		}
		return s
	case api.DataNone:
		return fmt.Sprintf("none: %s is in RAM and lasts until power off", d.MountPoint)
	case api.DataNotMounted:
		dev := d.Device
		if dev == "" {
			dev = "the data partition"
		}
		return fmt.Sprintf("NOT MOUNTED: %s: %s; workloads that need it are held", dev, d.Reason)
	}
	return d.State
}

// timeText is the box's clock and its last NTP sync in one line.
func timeText(t api.TimeState) string {
	s := t.Now.UTC().Format("2006-01-02 15:04:05 UTC")
	switch {
	case t.Synced:
		s += fmt.Sprintf("; synced with %s %s ago", t.Server, roundDuration(t.Now.Sub(t.At)))
		if off := time.Duration(t.Offset); off != 0 {
			how := "slewed"
			if t.Stepped {
				how = "stepped"
			}
			s += fmt.Sprintf(" (was off by %s, %s)", timesync.FormatOffset(off.Abs()), how)
		}
	case len(t.Servers) == 0:
		s += "; NOT SYNCED: no NTP server"
	default:
		s += "; NOT SYNCED with " + strings.Join(t.Servers, ", ")
	}
	if t.Error != "" {
		s += "; last sync: " + t.Error
	}
	if len(t.Serving) > 0 {
		s += fmt.Sprintf("; serving NTP on %s (%d answered)", strings.Join(t.Serving, ", "), t.Answered)
	}
	return s
}

// neighborText is an LLDP neighbour in one line: the switch and port the
// box's link is plugged into.
func neighborText(n lldp.Neighbor) string {
	who := n.SystemName
	if who == "" {
		who = n.ChassisID
	}
	s := fmt.Sprintf("%s is on %s port %s", n.Link, who, n.PortID)
	if n.PortDescription != "" {
		s += " (" + n.PortDescription + ")"
	}
	if len(n.MgmtAddresses) > 0 {
		s += ", management " + strings.Join(n.MgmtAddresses, ", ")
	}
	return s
}

// loggingText is the log shipping in one line.
func loggingText(l logship.Status) string {
	state := "connected"
	if !l.Connected {
		state = "NOT CONNECTED"
		if l.LastError != "" {
			state += " (" + l.LastError + ")"
		}
	}
	queued := fmt.Sprintf("%d queued", l.Queued)
	if l.QueuedBytes > 0 {
		queued += fmt.Sprintf(" (%d KiB)", (l.QueuedBytes+1023)>>10)
	}
	return fmt.Sprintf("%s: %s; %d sent, %s, %d dropped", l.Remote, state, l.Sent, queued, l.Dropped)
}

// sizeText is a size in MiB, or GiB from 1 GiB on.
func sizeText(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
