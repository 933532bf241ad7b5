// Command report merges the figures the benchmarks saved under the bench
// directory (build/bench, or $NUCBOX_BENCH_DIR) into report.md and
// report.json there and prints the table. It exits non-zero only when
// the figures cannot be read or written: a missed goal is a row of the
// table, not a failed run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/nucbox/nucbox/test/benchreport"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench report:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := benchreport.Dir()
	if err != nil {
		return err
	}
	expect := flag.String("expect", "", "comma-separated groups that must have saved figures (missing ones are rows marked missed)")
	flag.Parse()
	r, err := benchreport.Load(dir)
	if err != nil {
		return err
	}
	r.Expect(strings.Split(*expect, ",")...)
	if len(r.Figures) == 0 {
		return fmt.Errorf("no figures under %s/figures: did the benchmarks run?", dir)
	}
	r.Host = host()
	r.Notes = append(r.Notes,
		"load column: \"idle\" is a box running only the benchmark; \"under load\" rows ran with a CPU burner on one of the cores next to it",
		"ratio is median(ours) / median(baseline); each side's samples alternate which side goes first",
		"QEMU figures run under TCG (KVM is unusable on this machine), times from the appliance's own clock unless the note says otherwise")
	if err := r.Write(dir); err != nil {
		return err
	}
	fmt.Printf("bench report: %s/report.md, %s/report.json\n\n", dir, dir)
	return r.Table(os.Stdout)
}

func host() string {
	h := fmt.Sprintf("%d CPU(s)", runtime.NumCPU())
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h += ", Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h += ", load average at report " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return h
}
