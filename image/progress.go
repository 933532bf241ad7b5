package image

import (
	"fmt"
	"io"
	"time"

	"github.com/nucbox/nucbox/image/internal/bar"
)

// progress prints the build's steps as numbered lines and, on a terminal,
// a byte progress bar while the archive is written and compressed. In a
// log (make output, CI) the bar is left out: carriage-return redraws make
// logs unreadable, and the step lines already say where a build stopped.
type progress struct {
	w     io.Writer
	tty   bool
	steps int
	n     int
	start time.Time
}

func newProgress(w io.Writer, steps int) *progress {
	return &progress{w: w, steps: steps, start: time.Now(), tty: bar.IsTerminal(w)}
}

func (p *progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, format, args...)
	}
}

// step reports one finished step.
func (p *progress) step(label, format string, args ...any) {
	p.n++
	p.printf("[%d/%d] %-9s %s\n", p.n, p.steps, label, fmt.Sprintf(format, args...))
}

// bar returns a writer that advances a bar by the bytes written to it, and
// a function that removes the bar again. Without a terminal both do
// nothing.
func (p *progress) bar(label string, total int64) (io.Writer, func()) {
	if p.w == nil || !p.tty {
		return io.Discard, func() {}
	}
	return bar.New(p.w, fmt.Sprintf("[%d/%d] %-9s", p.n+1, p.steps, label), total)
}

func (p *progress) summary(r *Result) {
	p.printf("built in %s\n", time.Since(p.start).Round(10*time.Millisecond))
	p.printf("  kernel        %10s  %s\n", size(r.KernelBytes), r.Kernel)
	p.printf("  initramfs     %10s  %s\n", size(r.InitramfsBytes), r.Initramfs)
	p.printf("  uncompressed  %10s  %d files, %d kernel modules\n", size(r.UncompressedBytes), r.Files, len(r.Modules))
	if r.UKI != "" {
		p.printf("  uki           %10s  %s\n", size(r.UKIBytes), r.UKI)
	}
	if r.Disk != "" {
		p.printf("  disk image    %10s  %s\n", size(r.DiskBytes), r.Disk)
	}
	if r.PXEDir != "" {
		p.printf("  pxe bundle    %10s  %s\n", "", r.PXEDir)
	}
}

// size formats a byte count in binary units, as ls -h and du -h do.
func size(n int64) string { return bar.Size(n) }
