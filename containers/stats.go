package containers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nucbox/nucbox/internal/cgroup"
)

// Usage is a container's resource use, from its cgroup: every process of
// the container counts, not only its first one.
type Usage struct {
	// CPU is cpu.stat's usage_usec: user and system time of the cgroup.
	CPU time.Duration
	// Memory is memory.current: the cgroup's memory in use, page cache
	// included, which is what its memory limit is compared with.
	Memory int64
}

// CgroupRoot is where the cgroup v2 hierarchy is mounted.
const CgroupRoot = "/sys/fs/cgroup"

// CgroupUsage reads the usage of the cgroup v2 directory dir.
func CgroupUsage(dir string) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return u, err
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(stat))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != "usage_usec" {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return u, fmt.Errorf("%s/cpu.stat: usage_usec %q: %w", dir, v, err)
		}
		u.CPU, found = time.Duration(n)*time.Microsecond, true
	}
	if !found {
		return u, fmt.Errorf("%s/cpu.stat: no usage_usec", dir)
	}
	mem, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return u, err
	}
	u.Memory, err = strconv.ParseInt(strings.TrimSpace(string(mem)), 10, 64)
	if err != nil {
		return u, fmt.Errorf("%s/memory.current: %w", dir, err)
	}
	return u, nil
}

// ErrNotRunning is returned for the usage of a container with no running
// process.
var ErrNotRunning = errors.New("the container is not running")

// CgroupDir is the cgroup v2 directory of the instance's container.
func (in *Instance) CgroupDir() (string, error) {
	if in.lc == nil {
		return "", ErrNotRunning
	}
	st, err := in.lc.State()
	if err != nil {
		return "", err
	}
	if p := st.CgroupPaths[""]; p != "" {
		return p, nil
	}
	if c := in.lc.Config().Cgroups; c != nil && c.Path != "" {
		return filepath.Join(CgroupRoot, c.Path), nil
	}
	return "", errors.New("the container has no cgroup path")
}

// Usage is the running container's usage from its cgroup.
func (s *Supervisor) Usage() (Usage, error) {
	in := s.Instance()
	if in == nil {
		return Usage{}, ErrNotRunning
	}
	dir, err := in.CgroupDir()
	if err != nil {
		return Usage{}, err
	}
	return CgroupUsage(dir)
}

// Hits are the container's limits and how often it ran into them, over
// all its runs: the runs that ended and the one under way.
func (s *Supervisor) Hits() cgroup.Hits {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hits
	if s.cgDir != "" {
		if cur, err := cgroup.ReadHits(s.cgDir, false); err == nil {
			h = h.Add(cur)
		}
	}
	if h.Memory.Limit == 0 {
		h.Memory.Limit = s.ct.Memory
	}
	if h.PIDs.Limit == 0 {
		h.PIDs.Limit = int64(s.ct.PIDs)
	}
	return h
}

// endHits keeps the counts of the run whose cgroup is about to go. Under
// the same lock as Hits, so a reader sees them either in the group or in
// the total, never in both.
func (s *Supervisor) endHits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cgDir == "" {
		return
	}
	if cur, err := cgroup.ReadHits(s.cgDir, false); err == nil {
		s.hits = s.hits.Add(cur)
	}
	s.cgDir = ""
}
