package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/benchreport"
	"github.com/nucbox/nucbox/test/harness"
)

// The benchmarks of this package are the QEMU rows of `make bench`'s one
// table (package test/benchreport): each saves its figures, with the
// baseline measured in the same run, and the report command prints them.
// Nothing is asserted beyond "both sides did what they claim": a figure
// that misses its goal is a row marked missed, not a failed run.

// saveFigures hands a benchmark's figures to the report.
func saveFigures(b *testing.B, name string, figs ...benchreport.Figure) {
	b.Helper()
	benchreport.Record(b, name, figs...)
}

// msOf is a duration in milliseconds, as the table shows times.
func msOf(d time.Duration) float64 { return benchreport.Ms(d) }

// BenchmarkSizes (P4) builds the basic image with a UKI, without and with
// QEMU, and reports kernel, initramfs and UKI sizes in MB (10^6 bytes).
// Goal: the UKI with QEMU at most 30 MB.
func BenchmarkSizes(b *testing.B) {
	harness.Require(b)
	plain := harness.BuildImage(b, basicConfig, harness.BuildArgs("--uki"))
	withQEMU := harness.BuildImage(b, basicConfig, harness.BuildArgs("--uki", "--qemu"))
	mb := func(path string) []float64 {
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return []float64{float64(st.Size()) / 1e6}
	}
	uki := func(img *harness.Image) string { return filepath.Join(img.Dir, "nucbox.efi") }
	note := "basic.yaml, `nucbox image build --uki` (and `--qemu`); zstd initramfs; one build, sizes do not vary"
	qemuShare := fmt.Sprintf("QEMU (binary, TCG module, firmware and its shared libraries) adds %.1f MB to the compressed initramfs",
		mb(withQEMU.Initramfs)[0]-mb(plain.Initramfs)[0])
	figs := []benchreport.Figure{
		{ID: "P4a", Name: "kernel (Debian vmlinuz)", Unit: "MB", Ours: mb(plain.Kernel), Note: note},
		{ID: "P4b", Name: "initramfs without QEMU", Unit: "MB", Ours: mb(plain.Initramfs)},
		{ID: "P4c", Name: "initramfs with QEMU", Unit: "MB", Ours: mb(withQEMU.Initramfs)},
		{ID: "P4d", Name: "UKI without QEMU", Unit: "MB", Ours: mb(uki(plain))},
		{ID: "P4e", Name: "UKI with QEMU", Unit: "MB", Ours: mb(uki(withQEMU)), Goal: benchreport.AtMost(30),
			Note: qemuShare},
	}
	// Where the UKI's initramfs goes: each part compressed on its own.
	parts, err := imageParts(withQEMU.Initramfs)
	if err != nil {
		b.Fatal(err)
	}
	for i, p := range parts {
		f := benchreport.Figure{ID: fmt.Sprintf("P4f%d", i+1), Name: "initramfs with QEMU, part: " + p.name, Unit: "MB",
			Ours: []float64{float64(p.compressedLen) / 1e6},
			Note: fmt.Sprintf("%d file(s), %.1f MB uncompressed", p.files, float64(p.raw)/1e6)}
		if i == 0 {
			f.Note = "each part's files compressed on their own with the image's zstd settings; the parts add up to about P4c. " + f.Note
		}
		figs = append(figs, f)
	}
	saveFigures(b, "p4-sizes", figs...)
}

// bootStage is a console line announcing a boot phase, stamped with the
// kernel's clock: "[    1.234567] nucbox: boot: apply".
var bootStage = regexp.MustCompile(`(?m)\[\s*(\d+\.\d+)\] nucbox: (?:boot: (.+?)\r?$|(starting as PID 1)|(ready) \{)`)

// stagesOf reads the phases' start times from a boot's console and
// returns each phase's duration, in console order, up to the ready line.
func stagesOf(console string) (names []string, ms []float64) {
	var at []float64
	for _, m := range bootStage.FindAllStringSubmatch(console, -1) {
		t, _ := strconv.ParseFloat(m[1], 64)
		name := m[2] + m[3] + m[4]
		if name == "starting as PID 1" {
			name = "mounts"
		}
		if name == "ready" && len(names) > 0 && names[len(names)-1] == "ready" {
			// The "boot: ready" phase ends at the ready line.
			at = append(at, t)
			break
		}
		names, at = append(names, name), append(at, t)
	}
	for i := 0; i+1 < len(at); i++ {
		ms = append(ms, (at[i+1]-at[i])*1000)
	}
	return names[:len(ms)], ms
}

// benchRSSAfter is when after ready BenchmarkBoot reads PID 1's RSS a
// second time: what PID 1 keeps once the boot's work is done shows there,
// not in the ready line.
const benchRSSAfter = 60 * time.Second

// BenchmarkBoot (P5) boots the basic image five times: QEMU start to the
// ready line (host clock, includes firmware and the kernel), kernel to
// PID 1, PID 1 to ready (the appliance's clock), each boot phase, and PID
// 1's RSS at ready and benchRSSAfter later, each box idle until then.
// Goal: PID 1 to ready at most 1.5 s under TCG.
func BenchmarkBoot(b *testing.B) {
	harness.Require(b)
	const boots = 5
	img := harness.BuildImage(b, basicConfig)
	var host, toPID1, pid1Ready, rss, rssLater, dhcp []float64
	stages := map[string][]float64{}
	var order []string
	for i := range boots {
		m := img.Boot(b, harness.Options{Name: fmt.Sprintf("boot%d", i+1), NICs: uplink(), Quiet: true})
		ri, err := m.WaitReady(readyTimeout)
		took := time.Since(m.Started)
		out := m.Output()
		if err != nil {
			m.Close()
			b.Fatalf("boot %d: %v\nconsole:\n%s", i+1, err, lastLines(out, 40))
		}
		later, err := rssAfterReady(b, m, ri, benchRSSAfter)
		m.Close()
		if err != nil {
			b.Fatalf("boot %d: PID 1's RSS %s after ready: %v", i+1, benchRSSAfter, err)
		}
		rssLater = append(rssLater, float64(later.rss)/1024)
		host = append(host, msOf(took))
		toPID1 = append(toPID1, float64(ri.InitMS))
		pid1Ready = append(pid1Ready, float64(ri.ReadyMS-ri.InitMS))
		rss = append(rss, float64(ri.RSSKiB)/1024)
		if ri.Network != nil {
			dhcp = append(dhcp, float64(ri.Network.DHCPWaitMS))
		}
		names, ms := stagesOf(out)
		if len(names) == 0 {
			b.Fatalf("boot %d: no boot phases on the console", i+1)
		}
		for j, n := range names {
			if _, ok := stages[n]; !ok {
				order = append(order, n)
			}
			stages[n] = append(stages[n], ms[j])
		}
	}
	figs := []benchreport.Figure{
		{ID: "P5a", Name: "boot: QEMU start → ready line (host clock)", Unit: "ms", Ours: host,
			Note: fmt.Sprintf("%s under TCG, %d boots one after the other; P5c is the goal, from the ready summary (kernel clock)", basicConfig, boots)},
		{ID: "P5b", Name: "boot: kernel start → PID 1 exec", Unit: "ms", Ours: toPID1},
		{ID: "P5c", Name: "boot: PID 1 exec → ready", Unit: "ms", Ours: pid1Ready, Goal: benchreport.AtMost(1500)},
		{ID: "P5d", Name: "boot: DHCP wait inside P5c", Unit: "ms", Ours: dhcp},
		{ID: "P5e", Name: "boot: PID 1 RSS at ready", Unit: "MiB", Ours: rss},
		{ID: "P5f", Name: fmt.Sprintf("boot: PID 1 RSS %s after ready", benchRSSAfter), Unit: "MiB", Ours: rssLater,
			Note: "VmRSS read in the console shell once the box's clock passed ready + " + benchRSSAfter.String() + ", the box left alone"},
	}
	for i, n := range order {
		figs = append(figs, benchreport.Figure{ID: fmt.Sprintf("P5s%d", i+1), Name: "boot phase: " + n, Unit: "ms", Ours: stages[n]})
	}
	saveFigures(b, "p5-boot", figs...)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rssAfterReady reads PID 1's memory through the console shell once the
// box's clock has passed ready+after: it reads the box's uptime, waits
// out the rest of the interval (a measurement interval, not a wait for
// something to finish) and reads again.
func rssAfterReady(b *testing.B, m *harness.Machine, ri harness.ReadyInfo, after time.Duration) (memSample, error) {
	b.Helper()
	openShell(b, m)
	until := time.Duration(ri.ReadyMS)*time.Millisecond + after
	for deadline := time.Now().Add(after + 60*time.Second); ; {
		s, err := samplePID1Memory(m)
		if err != nil || s.uptime >= until {
			return s, err
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("the box's clock did not pass ready+%s (last sample %s)", after, s)
		}
		time.Sleep(until - s.uptime)
	}
}
