package api

import (
	"net/http"
	"sort"
)

// status gathers the box's state, its links and its workloads.
func (s *Server) status() Status {
	st := Status{BoxState: s.box.State(), Links: []Link{}, Workloads: []Workload{}}
	if c, ok := s.box.RunningConfig(); ok {
		st.Config = &ConfigRef{Source: c.Source, SHA256: c.SHA256}
	}
	if ls, ok := s.box.(LeaseSource); ok {
		st.UplinkLease = ls.UplinkLease()
	}
	if ls, ok := s.box.(Lease6Source); ok {
		st.UplinkLease6 = ls.UplinkLease6()
	}
	if ss, ok := s.box.(ServedLeaseSource); ok {
		st.ServedLeases = ss.ServedLeases()
	}
	links, err := s.links()
	if err != nil {
		st.LinkError = err.Error()
	} else if links != nil {
		st.Links = links
	}
	if s.bridges != nil {
		sw, err := s.bridges()
		st.Switch = sw
		if err != nil {
			st.SwitchError = err.Error()
		}
	}
	if ws := s.box.Workloads(); ws != nil {
		st.Workloads = ws
	}
	sort.SliceStable(st.Workloads, func(i, j int) bool {
		a, b := st.Workloads[i], st.Workloads[j]
		if a.Kind != b.Kind {
			return a.Kind > b.Kind // VMs first, then containers
		}
		return a.Name < b.Name
	})
	return st
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}
