package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Phases and workload states get one series each, set to 1 for the
// current one: the usual Prometheus shape for an enum, which lets an alert
// say phase="failed" without knowing a numbering.
var (
	phases         = []string{"booting", "ready", "failed", "shutting down"}
	workloadStates = []string{"starting", "running", "backoff", "stopping", "stopped", "failed", "created", "paused", "unknown"}
)

var (
	descPhase     = prometheus.NewDesc("nucbox_boot_phase", "PID 1's phase: 1 for the current one.", []string{"phase"}, nil)
	descReady     = prometheus.NewDesc("nucbox_boot_ready_seconds", "Time from kernel start to ready.", nil, nil)
	descUptime    = prometheus.NewDesc("nucbox_uptime_seconds", "Time since the kernel started.", nil, nil)
	descState     = prometheus.NewDesc("nucbox_workload_state", "A workload's state: 1 for the current one.", []string{"kind", "name", "state"}, nil)
	descRestarts  = prometheus.NewDesc("nucbox_workload_restarts_total", "Restarts of a workload after unexpected exits.", []string{"kind", "name"}, nil)
	descCPU       = prometheus.NewDesc("nucbox_workload_cpu_seconds_total", "CPU time of a workload: QEMU's for a VM, the cgroup's for a container.", []string{"kind", "name"}, nil)
	descRSS       = prometheus.NewDesc("nucbox_workload_resident_memory_bytes", "Memory of a workload: QEMU's resident memory for a VM, the cgroup's memory.current for a container.", []string{"kind", "name"}, nil)
	descMemHits   = prometheus.NewDesc("nucbox_workload_memory_limit_hits_total", "Times a workload's memory use reached its cgroup's memory.max (memory.events max), over all its runs.", []string{"kind", "name"}, nil)
	descOOMKills  = prometheus.NewDesc("nucbox_workload_oom_kills_total", "A workload's processes ended by the OOM killer (memory.events oom_kill), over all its runs.", []string{"kind", "name"}, nil)
	descPIDsHits  = prometheus.NewDesc("nucbox_workload_pids_limit_hits_total", "Forks a workload's pids limit refused (pids.events max), over all its runs.", []string{"kind", "name"}, nil)
	descMemLimit  = prometheus.NewDesc("nucbox_workload_memory_limit_bytes", "A workload's memory.max.", []string{"kind", "name"}, nil)
	descPIDsLimit = prometheus.NewDesc("nucbox_workload_pids_limit", "A workload's pids.max.", []string{"kind", "name"}, nil)
	descAllMem    = prometheus.NewDesc("nucbox_workloads_memory_limit_hits_total", "Times all workloads together reached their parent cgroup's memory.max (memory.events.local max).", nil, nil)
	descAllOOM    = prometheus.NewDesc("nucbox_workloads_oom_total", "Times the workloads' parent cgroup's limit ran the OOM killer (memory.events.local oom).", nil, nil)
	descAllPIDs   = prometheus.NewDesc("nucbox_workloads_pids_limit_hits_total", "Forks refused in the workloads' parent cgroup itself (pids.events max).", nil, nil)
	descLinkUp    = prometheus.NewDesc("nucbox_link_up", "1 when a link's operstate is up.", []string{"link"}, nil)
	descRxBytes   = prometheus.NewDesc("nucbox_link_receive_bytes_total", "Bytes received on a link.", []string{"link"}, nil)
	descTxBytes   = prometheus.NewDesc("nucbox_link_transmit_bytes_total", "Bytes sent on a link.", []string{"link"}, nil)
	descRxPackets = prometheus.NewDesc("nucbox_link_receive_packets_total", "Packets received on a link.", []string{"link"}, nil)
	descTxPackets = prometheus.NewDesc("nucbox_link_transmit_packets_total", "Packets sent on a link.", []string{"link"}, nil)
	descRxDropped = prometheus.NewDesc("nucbox_link_receive_dropped_total", "Packets dropped on receive on a link (for a bridge port: frames the workload sent that the kernel dropped).", []string{"link", "port"}, nil)
	descTxDropped = prometheus.NewDesc("nucbox_link_transmit_dropped_total", "Packets dropped on transmit on a link (for a bridge port: over its rate, or no room in the guest's queue).", []string{"link", "port"}, nil)
	descFDB       = prometheus.NewDesc("nucbox_bridge_fdb_entries", "MAC addresses a bridge has learnt on a port (its own addresses not counted).", []string{"bridge", "port"}, nil)
	descErrDis    = prometheus.NewDesc("nucbox_port_err_disabled", "1 for a workload port a guard took out of forwarding (reason: the guard).", []string{"port", "link", "reason"}, nil)
	descPolicy    = prometheus.NewDesc("nucbox_port_policy_packets_total", "Packets a port policy rule matched (drop=1 for rules that drop).", []string{"chain", "rule", "drop"}, nil)
	descData      = prometheus.NewDesc("nucbox_data_partition_state", "The data partition's state: 1 for the current one (not mounted: it exists but was left as it is, and the workloads that need it are held).", []string{"state", "device"}, nil)
	descDataSize  = prometheus.NewDesc("nucbox_data_partition_size_bytes", "Size of the mounted data partition's filesystem.", []string{"device"}, nil)
	descLogConn   = prometheus.NewDesc("nucbox_log_shipping_connected", "1 while the connection to the syslog server is up.", []string{"remote"}, nil)
	descLogSent   = prometheus.NewDesc("nucbox_log_messages_sent_total", "Messages sent to the syslog server.", []string{"remote"}, nil)
	descLogDrop   = prometheus.NewDesc("nucbox_log_messages_dropped_total", "Messages dropped from the full buffer while the syslog server was unreachable.", []string{"remote"}, nil)
	descLogQueue  = prometheus.NewDesc("nucbox_log_messages_queued", "Messages waiting for the syslog server.", []string{"remote"}, nil)
	descTimeSync  = prometheus.NewDesc("nucbox_time_synced", "1 once an NTP server answered since boot.", nil, nil)
	descTimeOff   = prometheus.NewDesc("nucbox_time_offset_seconds", "How far off the clock was at the last NTP sync that worked (server minus box).", nil, nil)
	descServed    = prometheus.NewDesc("nucbox_dhcp_leases", "Active leases of the box's DHCP server on a VLAN.", []string{"vlan"}, nil)
	descDataFree  = prometheus.NewDesc("nucbox_data_partition_free_bytes", "Space left for files on the mounted data partition.", []string{"device"}, nil)
	descUpLease   = prometheus.NewDesc("nucbox_uplink_lease", "The box's own lease on the lab network, DHCP (ipv4) or DHCPv6 (ipv6): 1, with its address and the client's state.", []string{"family", "link", "address", "state"}, nil)
	descUpExpiry  = prometheus.NewDesc("nucbox_uplink_lease_expiry_timestamp_seconds", "When the box's own lease on the lab network ends unless renewed (absent for an infinite lease).", []string{"family"}, nil)
	descUpRenews  = prometheus.NewDesc("nucbox_uplink_lease_renewals_total", "Times the box's own lease on the lab network was extended.", []string{"family"}, nil)
)

// dataStates are the data partition's states, one series each.
var dataStates = []string{DataMounted, DataNone, DataNotMounted}

// boxCollector reads the box's state at every scrape: nothing is kept
// between scrapes, so the metrics never disagree with /v1/status.
type boxCollector struct{ s *Server }

func (c boxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhase, descReady, descUptime, descState, descRestarts, descCPU, descRSS, descMemHits, descOOMKills, descPIDsHits, descMemLimit, descPIDsLimit, descAllMem, descAllOOM, descAllPIDs, descLinkUp, descRxBytes, descTxBytes, descRxPackets, descTxPackets, descRxDropped, descTxDropped, descFDB, descPolicy, descErrDis, descData, descDataSize, descDataFree, descTimeSync, descTimeOff, descLogConn, descLogSent, descLogDrop, descLogQueue, descServed} {
		ch <- d
	}
	// The box's own leases on the lab network.
	for _, d := range []*prometheus.Desc{descUpLease, descUpExpiry, descUpRenews} {
		ch <- d
	}
}

func (c boxCollector) Collect(ch chan<- prometheus.Metric) {
	// The registry collects in goroutines of its own, out of reach of
	// the handler's recover: a panic here would end PID 1.
	defer func() {
		if v := recover(); v != nil {
			c.s.logf("api: metrics: panic (recovered): %v", v)
		}
	}()
	st := c.s.box.State()
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, b2f(p == st.Phase), p)
	}
	ch <- prometheus.MustNewConstMetric(descUptime, prometheus.GaugeValue, float64(st.Uptime)/1e9)
	var sum struct {
		ReadyMS int64 `json:"ready_ms"`
	}
	if len(st.Summary) > 0 && json.Unmarshal(st.Summary, &sum) == nil && sum.ReadyMS > 0 {
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, float64(sum.ReadyMS)/1000)
	}
	if h := st.WorkloadLimits; h != nil {
		ch <- prometheus.MustNewConstMetric(descAllMem, prometheus.CounterValue, float64(h.Memory.Max))
		ch <- prometheus.MustNewConstMetric(descAllOOM, prometheus.CounterValue, float64(h.Memory.OOM))
		ch <- prometheus.MustNewConstMetric(descAllPIDs, prometheus.CounterValue, float64(h.PIDs.Max))
	}
	if d := st.Data; d != nil {
		for _, s := range dataStates {
			ch <- prometheus.MustNewConstMetric(descData, prometheus.GaugeValue, b2f(s == d.State), s, d.Device)
		}
		if d.State == DataMounted && d.Size > 0 {
			ch <- prometheus.MustNewConstMetric(descDataSize, prometheus.GaugeValue, float64(d.Size), d.Device)
			ch <- prometheus.MustNewConstMetric(descDataFree, prometheus.GaugeValue, float64(d.Free), d.Device)
		}
	}
	if t := st.Time; t != nil {
		ch <- prometheus.MustNewConstMetric(descTimeSync, prometheus.GaugeValue, b2f(t.Synced))
		if t.Synced {
			ch <- prometheus.MustNewConstMetric(descTimeOff, prometheus.GaugeValue, time.Duration(t.Offset).Seconds())
		}
	}
	for _, p := range st.ErrDisabled {
		ch <- prometheus.MustNewConstMetric(descErrDis, prometheus.GaugeValue, 1, p.Port, p.Link, p.Reason)
	}
	if l := st.Logging; l != nil {
		ch <- prometheus.MustNewConstMetric(descLogConn, prometheus.GaugeValue, b2f(l.Connected), l.Remote)
		ch <- prometheus.MustNewConstMetric(descLogSent, prometheus.CounterValue, float64(l.Sent), l.Remote)
		ch <- prometheus.MustNewConstMetric(descLogDrop, prometheus.CounterValue, float64(l.Dropped), l.Remote)
		ch <- prometheus.MustNewConstMetric(descLogQueue, prometheus.GaugeValue, float64(l.Queued), l.Remote)
	}
	seen := map[[2]string]bool{}
	for _, w := range c.s.box.Workloads() {
		// Two sources reporting the same workload would make the
		// registry reject the whole scrape.
		k := [2]string{w.Kind, w.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		known := false
		for _, s := range workloadStates {
			known = known || s == w.State
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(s == w.State), w.Kind, w.Name, s)
		}
		if !known && w.State != "" {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, w.Kind, w.Name, w.State)
		}
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(w.Restarts), w.Kind, w.Name)
		if h := w.Limits; h != nil {
			ch <- prometheus.MustNewConstMetric(descMemHits, prometheus.CounterValue, float64(h.Memory.Max), w.Kind, w.Name)
			ch <- prometheus.MustNewConstMetric(descOOMKills, prometheus.CounterValue, float64(h.Memory.OOMKill), w.Kind, w.Name)
			ch <- prometheus.MustNewConstMetric(descPIDsHits, prometheus.CounterValue, float64(h.PIDs.Max), w.Kind, w.Name)
			if h.Memory.Limit > 0 {
				ch <- prometheus.MustNewConstMetric(descMemLimit, prometheus.GaugeValue, float64(h.Memory.Limit), w.Kind, w.Name)
			}
			if h.PIDs.Limit > 0 {
				ch <- prometheus.MustNewConstMetric(descPIDsLimit, prometheus.GaugeValue, float64(h.PIDs.Limit), w.Kind, w.Name)
			}
		}
		if us, ok := c.s.box.(UsageSource); ok {
			if u, ok := us.WorkloadUsage(w); ok {
				ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, u.CPU, w.Kind, w.Name)
				ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(u.Memory), w.Kind, w.Name)
				continue
			}
		}
		if w.PID > 0 {
			// The process may have exited since the list was made.
			if cpu, rss, err := procUsage("/proc", w.PID); err == nil {
				ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, cpu, w.Kind, w.Name)
				ch <- prometheus.MustNewConstMetric(descRSS, prometheus.GaugeValue, float64(rss), w.Kind, w.Name)
			}
		}
	}
	own := map[string]*Lease{}
	if ls, ok := c.s.box.(LeaseSource); ok {
		own["ipv4"] = ls.UplinkLease()
	}
	if ls, ok := c.s.box.(Lease6Source); ok {
		own["ipv6"] = ls.UplinkLease6()
	}
	for family, l := range own {
		if l == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descUpLease, prometheus.GaugeValue, 1, family, l.Link, l.Address, l.State)
		if !l.Expiry.IsZero() {
			ch <- prometheus.MustNewConstMetric(descUpExpiry, prometheus.GaugeValue, float64(l.Expiry.UnixMilli())/1000, family)
		}
		ch <- prometheus.MustNewConstMetric(descUpRenews, prometheus.CounterValue, float64(l.Renewals), family)
	}
	if ss, ok := c.s.box.(ServedLeaseSource); ok {
		active := map[int]int{}
		for _, l := range ss.ServedLeases() {
			if _, ok := active[l.VLAN]; !ok {
				active[l.VLAN] = 0
			}
			if l.Active {
				active[l.VLAN]++
			}
		}
		for v, n := range active {
			ch <- prometheus.MustNewConstMetric(descServed, prometheus.GaugeValue, float64(n), strconv.Itoa(v))
		}
	}
	links, _ := c.s.links()
	for _, l := range links {
		ch <- prometheus.MustNewConstMetric(descLinkUp, prometheus.GaugeValue, b2f(l.State == "up"), l.Name)
		ch <- prometheus.MustNewConstMetric(descRxBytes, prometheus.CounterValue, float64(l.Stats.RxBytes), l.Name)
		ch <- prometheus.MustNewConstMetric(descTxBytes, prometheus.CounterValue, float64(l.Stats.TxBytes), l.Name)
		ch <- prometheus.MustNewConstMetric(descRxPackets, prometheus.CounterValue, float64(l.Stats.RxPackets), l.Name)
		ch <- prometheus.MustNewConstMetric(descTxPackets, prometheus.CounterValue, float64(l.Stats.TxPackets), l.Name)
		ch <- prometheus.MustNewConstMetric(descRxDropped, prometheus.CounterValue, float64(l.Stats.RxDropped), l.Name, l.Port)
		ch <- prometheus.MustNewConstMetric(descTxDropped, prometheus.CounterValue, float64(l.Stats.TxDropped), l.Name, l.Port)
	}
	if c.s.bridges != nil {
		sw, _ := c.s.bridges()
		if sw != nil {
			learnt := map[[2]string]int{}
			for _, e := range sw.FDB {
				if !e.Local {
					learnt[[2]string{e.Bridge, e.Port}]++
				}
			}
			for k, n := range learnt {
				ch <- prometheus.MustNewConstMetric(descFDB, prometheus.GaugeValue, float64(n), k[0], k[1])
			}
			seen := map[[2]string]bool{}
			for _, p := range sw.Policy {
				// Two rules with one comment in one chain would make
				// the registry reject the scrape.
				if k := [2]string{p.Chain, p.Rule}; !seen[k] {
					seen[k] = true
					ch <- prometheus.MustNewConstMetric(descPolicy, prometheus.CounterValue, float64(p.Packets), p.Chain, p.Rule, map[bool]string{true: "1", false: "0"}[p.Drop])
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// newMetrics builds the /metrics handler on a registry of its own, so
// that nothing registered globally by a library can break a scrape. PID
// 1's RSS is process_resident_memory_bytes from the process collector.
func (s *Server) newMetrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(boxCollector{s}, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		// A failing scrape is the scraper's problem to report; PID 1's
		// console is not the place.
		ErrorLog: nil,
	})
}
