package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Hits are a group's limits and how often its processes ran into them,
// from the kernel's memory.events and pids.events. The counters only
// grow while the group exists; a workload that outlives its group (a
// restart makes a new one) adds them up with Add.
type Hits struct {
	Memory MemoryHits `json:"memory"`
	PIDs   PIDsHits   `json:"pids"`
}

// MemoryHits are memory.max and memory.events.
type MemoryHits struct {
	// Limit is memory.max in bytes, 0 for none.
	Limit int64 `json:"limit,omitempty"`
	// Max counts the times the group's usage was about to exceed its
	// limit (the kernel reclaimed or failed the charge).
	Max int64 `json:"max"`
	// OOM counts the times the group's limit ran the OOM killer.
	OOM int64 `json:"oom"`
	// OOMKill counts the group's processes the OOM killer ended.
	OOMKill int64 `json:"oom_kill"`
}

// PIDsHits are pids.max and pids.events.
type PIDsHits struct {
	// Limit is pids.max, 0 for none.
	Limit int64 `json:"limit,omitempty"`
	// Max counts the forks refused because a pids limit was reached
	// (on kernels before 6.11, whichever ancestor's limit it was).
	Max int64 `json:"max"`
}

// Any tells whether any counter is above zero.
func (h Hits) Any() bool {
	return h.Memory.Max > 0 || h.Memory.OOM > 0 || h.Memory.OOMKill > 0 || h.PIDs.Max > 0
}

// Add is h with the counters of later added: the limits are later's
// when it has them.
func (h Hits) Add(later Hits) Hits {
	h.Memory.Max += later.Memory.Max
	h.Memory.OOM += later.Memory.OOM
	h.Memory.OOMKill += later.Memory.OOMKill
	h.PIDs.Max += later.PIDs.Max
	if later.Memory.Limit > 0 {
		h.Memory.Limit = later.Memory.Limit
	}
	if later.PIDs.Limit > 0 {
		h.PIDs.Limit = later.PIDs.Limit
	}
	return h
}

// ReadHits reads the limits and events of the group directory dir (a
// full path). A controller the group lacks leaves its part zero. With
// local set it reads memory.events.local, the events of the group's own
// limit: for a parent group, whose memory.events also counts what its
// children's limits did.
func ReadHits(dir string, local bool) (Hits, error) {
	var h Hits
	if _, err := os.Stat(dir); err != nil {
		return h, err
	}
	var err error
	if h.Memory.Limit, err = readLimit(filepath.Join(dir, "memory.max")); err != nil {
		return h, err
	}
	if h.PIDs.Limit, err = readLimit(filepath.Join(dir, "pids.max")); err != nil {
		return h, err
	}
	mem := "memory.events"
	if local {
		mem += ".local"
	}
	ev, err := readKeyed(filepath.Join(dir, mem))
	if err != nil {
		return h, err
	}
	h.Memory.Max, h.Memory.OOM, h.Memory.OOMKill = ev["max"], ev["oom"], ev["oom_kill"]
	if ev, err = readKeyed(filepath.Join(dir, "pids.events")); err != nil {
		return h, err
	}
	h.PIDs.Max = ev["max"]
	return h, nil
}

// readLimit reads a limit file: "max" and a missing file are 0.
func readLimit(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// readKeyed reads a flat keyed file ("key value" lines); a missing file
// is empty.
func readKeyed(file string) (map[string]int64, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseKeyed(b, file)
}

// ParseKeyed parses a flat keyed cgroup file such as memory.events:
// lines of a key and an unsigned count. name is for the errors.
func ParseKeyed(b []byte, name string) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"key count\", got %q", name, n, sc.Text())
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s:%d: %s: not a count: %q", name, n, f[0], f[1])
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}
