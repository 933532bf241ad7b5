package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// rssSettle is how long after ready PID 1's memory is watched, and
// rssGrowthKiB how much it may grow in that time with nothing happening:
// the runtime's heap may breathe, but a leak, a cache or a buffer kept
// after ready shows as tens of MiB.
const (
	rssSettle    = 60 * time.Second
	rssGrowthKiB = 8 << 10
)

// memSample is PID 1's memory at one kernel time.
type memSample struct {
	uptime                 time.Duration
	rss, anon, file, shmem int64 // KiB
	huge                   int64 // KiB of anonymous memory in huge pages
}

func (s memSample) String() string {
	return fmt.Sprintf("t=%.1fs rss=%d KiB (anon %d, file %d, shmem %d; anon in huge pages %d)",
		s.uptime.Seconds(), s.rss, s.anon, s.file, s.shmem, s.huge)
}

// samplePID1Memory reads PID 1's memory and the kernel's uptime through
// the console shell, in one command so that both are of the same moment.
func samplePID1Memory(m *harness.Machine) (memSample, error) {
	out, err := m.Shell(30*time.Second, "cat /proc/uptime; grep -E '^(VmRSS|RssAnon|RssFile|RssShmem):' /proc/1/status; grep '^AnonHugePages:' /proc/1/smaps_rollup")
	if err != nil {
		return memSample{}, err
	}
	var s memSample
	fields := map[string]*int64{"VmRSS:": &s.rss, "RssAnon:": &s.anon, "RssFile:": &s.file, "RssShmem:": &s.shmem, "AnonHugePages:": &s.huge}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if p, ok := fields[f[0]]; ok && len(f) >= 2 {
			*p, _ = strconv.ParseInt(f[1], 10, 64)
			continue
		}
		if len(f) == 2 && s.uptime == 0 {
			if up, err := strconv.ParseFloat(f[0], 64); err == nil {
				s.uptime = time.Duration(up * float64(time.Second))
			}
		}
	}
	if s.uptime == 0 || s.rss == 0 {
		return s, fmt.Errorf("no uptime or VmRSS in %q", out)
	}
	return s, nil
}

// checkRSSFlat samples PID 1's memory from ready until the kernel clock
// has passed ready+rssSettle, with the box left alone, and fails when
// the resident set grew by more than rssGrowthKiB over its size at ready,
// as the ready summary has it: what PID 1 does right after the ready line
// (marking the boot slot good, say) counts too.
func checkRSSFlat(t *testing.T, m *harness.Machine, ri harness.ReadyInfo) {
	t.Helper()
	openShell(t, m)
	first, err := samplePID1Memory(m)
	if err != nil {
		t.Fatalf("PID 1 memory: %v", err)
	}
	until := time.Duration(ri.ReadyMS)*time.Millisecond + rssSettle
	samples := []memSample{first}
	deadline := time.Now().Add(rssSettle + 60*time.Second)
	last := first
	for last.uptime < until {
		if time.Now().After(deadline) {
			t.Fatalf("the box's clock did not pass ready+%s (last sample %s)", rssSettle, last)
		}
		time.Sleep(5 * time.Second)
		if last, err = samplePID1Memory(m); err != nil {
			t.Fatalf("PID 1 memory: %v", err)
		}
		samples = append(samples, last)
	}
	for _, s := range samples {
		t.Logf("PID 1 memory: %s", s)
	}
	// Where the memory is: the kernel's huge page settings, and PID 1's
	// mappings of more than 2 MiB resident.
	if out, err := m.Shell(30*time.Second, "cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none; "+
		"awk '/^[0-9a-f]+-/{m=$0} /^Rss:/{if ($2 > 2048) print $2 \" kB \" m}' /proc/1/smaps"); err == nil {
		t.Logf("huge pages and PID 1's large mappings:\n%s", out)
	}
	atReady := ri.RSSKiB
	if atReady <= 0 {
		t.Errorf("the ready summary has no rss_kib")
		atReady = first.rss
	}
	grew := last.rss - atReady
	t.Logf("PID 1 RSS: %d KiB at ready, %d KiB at the first sample, %d KiB at ready+%s: %+d KiB (bound +%d KiB)",
		atReady, first.rss, last.rss, (last.uptime - time.Duration(ri.ReadyMS)*time.Millisecond).Round(time.Second), grew, rssGrowthKiB)
	if grew > rssGrowthKiB {
		t.Errorf("PID 1's RSS grew from %d KiB at ready to %d KiB %s later with nothing happening (bound +%d KiB)",
			atReady, last.rss, rssSettle, rssGrowthKiB)
	}
}
