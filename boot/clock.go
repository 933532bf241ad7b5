package boot

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Timestamps. The kernel stamps its console lines with its scheduler
// clock, which counts from boot like CLOCK_MONOTONIC but is not the same
// clock: under TCG the two were measured 30 ms apart. PID 1's lines and
// the ready summary must be on the kernel's clock for the boot timeline
// (kernel start, PID 1 exec, ready) to be read from one console log, so
// PID 1 measures the offset once, by writing a record to /dev/kmsg and
// reading back the time the kernel gave it.

// initEnv carries the first exec's timestamp across the re-exec that moves
// the root off the initramfs, so init_ms measures the kernel's hand-over to
// /init and not the second exec.
const initEnv = "NUCBOX_INIT_NS"

// initTime is when this process's Go code first ran (CLOCK_MONOTONIC):
// package variables are initialised before main, as early as Go code can
// observe anything.
var initTime = monotonic()

// kernelOffset converts CLOCK_MONOTONIC to the kernel's log clock, in
// nanoseconds. It is set once, early in Main; atomic because the signal
// handler may already be logging.
var kernelOffset atomic.Int64

func kernelClockOffset() time.Duration { return time.Duration(kernelOffset.Load()) }

func monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// sinceBoot is the time elapsed since the kernel started, on the kernel's
// log clock.
func sinceBoot() time.Duration { return monotonic() + kernelClockOffset() }

// syncKernelClock measures kernelOffset. The probe record is logged
// at debug level, which the console does not show.
func syncKernelClock() error {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	// Reading starts after the records already there.
	if _, err := unix.Seek(fd, 0, 2); err != nil {
		return err
	}
	const probe = "nucbox: kernel clock sync"
	t0 := monotonic()
	if _, err := unix.Write(fd, []byte("<7>"+probe+"\n")); err != nil {
		return err
	}
	t1 := monotonic()
	buf := make([]byte, 8192)
	for i := 0; i < 64; i++ {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE { // records overwritten under us; read on
			continue
		}
		if err != nil {
			return err
		}
		ts, text, ok := parseKmsg(buf[:n])
		if ok && text == probe {
			off := ts - (t0+t1)/2
			if off < -time.Second || off > time.Second {
				return fmt.Errorf("implausible offset %v", off)
			}
			kernelOffset.Store(int64(off))
			return nil
		}
	}
	return fmt.Errorf("probe record not found")
}

// parseKmsg parses one /dev/kmsg record: "prio,seq,usec,flags[,...];text".
func parseKmsg(rec []byte) (ts time.Duration, text string, ok bool) {
	head, body, found := bytes.Cut(rec, []byte{';'})
	if !found {
		return 0, "", false
	}
	f := strings.Split(string(head), ",")
	if len(f) < 4 {
		return 0, "", false
	}
	us, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return 0, "", false
	}
	text, _, _ = strings.Cut(string(body), "\n")
	return time.Duration(us) * time.Microsecond, text, true
}

// firstExec returns when PID 1 was first exec'd (CLOCK_MONOTONIC),
// preferring the value a previous exec left in the environment, and
// removes that variable so that children do not inherit it.
func firstExec() time.Duration {
	if v := os.Getenv(initEnv); v != "" {
		os.Unsetenv(initEnv)
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns > 0 {
			return time.Duration(ns)
		}
	}
	return initTime
}

// stamp formats d like the kernel's printk prefix, "[    3.123456]".
func stamp(d time.Duration) string {
	us := d.Microseconds()
	return fmt.Sprintf("[%5d.%06d]", us/1e6, us%1e6)
}

// ms converts a duration to whole milliseconds for summaries.
func ms(d time.Duration) int64 { return d.Milliseconds() }
