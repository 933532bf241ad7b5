package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// BenchmarkBoot boots the basic image b.N times and reports the boot
// timeline from the appliance's own clock (the kernel's uptime, which is
// also what the console timestamps show), the image sizes and PID 1's
// memory at ready. The figures are printed, not asserted: TCG speed
// depends on the machine and its load.
func BenchmarkBoot(b *testing.B) {
	harness.Require(b)
	img := harness.BuildImage(b, basicConfig)
	sizes, err := img.Sizes()
	if err != nil {
		b.Fatal(err)
	}

	var initMS, readyMS, hostMS, rss float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := img.Boot(b, harness.Options{Name: fmt.Sprintf("boot%d", i+1), NICs: uplink(), Quiet: true})
		ri, err := m.WaitReady(readyTimeout)
		host := time.Since(m.Started)
		m.Close()
		if err != nil {
			b.Fatalf("boot %d: %v\nconsole:\n%s", i+1, err, lastLines(m.Output(), 40))
		}
		initMS += float64(ri.InitMS)
		readyMS += float64(ri.ReadyMS)
		hostMS += float64(host.Milliseconds())
		rss += float64(ri.RSSKiB)
	}
	b.StopTimer()
	n := float64(b.N)
	initMS, readyMS, hostMS, rss = initMS/n, readyMS/n, hostMS/n, rss/n

	b.ReportMetric(initMS, "kernel-to-pid1-ms")
	b.ReportMetric(readyMS-initMS, "pid1-to-ready-ms")
	b.ReportMetric(readyMS, "kernel-to-ready-ms")
	b.ReportMetric(hostMS, "qemu-to-ready-ms")
	b.ReportMetric(float64(sizes.Kernel)/1024, "kernel-KiB")
	b.ReportMetric(float64(sizes.Initramfs)/1024, "initramfs-KiB")
	b.ReportMetric(float64(sizes.InitramfsUncompressed)/1024, "initramfs-raw-KiB")
	b.ReportMetric(rss, "pid1-rss-KiB")

	var t strings.Builder
	fmt.Fprintf(&t, "boot of %s under TCG, mean of %d boot(s):\n", basicConfig, b.N)
	fmt.Fprintf(&t, "  kernel start -> PID 1 exec    %8.0f ms\n", initMS)
	fmt.Fprintf(&t, "  PID 1 exec   -> ready         %8.0f ms\n", readyMS-initMS)
	fmt.Fprintf(&t, "  kernel start -> ready         %8.0f ms\n", readyMS)
	fmt.Fprintf(&t, "  QEMU start   -> ready line    %8.0f ms  (host clock, includes firmware)\n", hostMS)
	fmt.Fprintf(&t, "  kernel                        %8.1f MiB\n", mib(sizes.Kernel))
	fmt.Fprintf(&t, "  initramfs, compressed         %8.1f MiB\n", mib(sizes.Initramfs))
	fmt.Fprintf(&t, "  initramfs, uncompressed       %8.1f MiB\n", mib(sizes.InitramfsUncompressed))
	fmt.Fprintf(&t, "  PID 1 RSS at ready            %8.1f MiB\n", rss/1024)
	// Nine lines at most: the benchmark log is cut at its tenth newline.
	b.Log(strings.TrimSuffix(t.String(), "\n"))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
