package boot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/boot/datapart"
	"github.com/nucbox/nucbox/boot/slot"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image/esp"
)

// DataDir is where the data partition is mounted: the default state
// directory, so VM disks, the image cache, the API's token and
// certificate, container logs, the boot logs and the last known good
// config land on it.
const DataDir = config.DefaultStateDir

// bootLogDir holds PID 1's log of this boot and the last ones.
const bootLogDir = DataDir + "/logs"

// bootLogsKept is how many boots' logs stay on the data partition.
const bootLogsKept = 5

// dataPartition is the data partition as PID 1 set it up.
type dataPartition struct {
	mu      sync.Mutex
	mounted bool
	res     *datapart.Result
	// stopLog ends the boot log file, nil without one.
	stopLog func()
}

func (d *dataPartition) isMounted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mounted
}

// setupDataPartition finds, creates or grows, checks and mounts the data
// partition. Without one the box runs on; its state then lasts until
// power off, and the log says so.
func (p *pid1) setupDataPartition() bool {
	defer recoverLog("data")
	if p.slot.Name != "" {
		p.waitBootDisk(30 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// Without a modprobe for the kernel to call, ext4's checksum driver
	// must be in before the mount asks for it. With no disk at all there
	// is nothing to mount, and ext4 (a fifth of a second under TCG) is
	// not loaded for nothing.
	if hasDisk() {
		if _, err := p.loadNamedModules("ext4", "crc32c_generic"); err != nil {
			Logf("data partition: warning: %v", err)
		}
	}
	res, err := datapart.Setup(ctx, datapart.Options{
		MountPoint:   DataDir,
		Logf:         Logf,
		BootPartUUID: p.slot.BootPartUUID,
	})
	switch {
	case errors.Is(err, datapart.ErrNoDisk):
		Logf("data partition: none, and no boot disk to make one on; state lasts until power off")
		return true
	case err != nil:
		Logf("data partition: warning: %v; state lasts until power off", err)
		return true
	}
	p.data.mu.Lock()
	p.data.mounted, p.data.res = true, res
	p.data.mu.Unlock()
	Logf("data partition: %s ready in %d ms", res.Device, time.Since(start).Milliseconds())
	p.startBootLogFile()
	return true
}

// waitBootDisk waits for the disk the box booted from to show up: a USB
// stick appears a second or more after its driver loads (usb-storage lets
// the device settle before scanning it), and its SCSI disk driver is not
// coldplugged because the disk did not exist yet.
func (p *pid1) waitBootDisk(timeout time.Duration) {
	if _, err := p.loadNamedModules("sd_mod"); err != nil {
		Logf("data partition: warning: %v", err)
	}
	start := time.Now()
	for time.Since(start) < timeout {
		if _, err := slot.FindPartition(esp.ESPName); err == nil {
			if d := time.Since(start); d > 100*time.Millisecond {
				Logf("data partition: boot disk appeared after %d ms", d.Milliseconds())
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	Logf("data partition: warning: the boot disk (partition %s) did not appear within %s", esp.ESPName, timeout)
}

// lastGoodPath is the data partition's config source, empty without one.
func (p *pid1) lastGoodPath() string {
	if !p.data.isMounted() {
		return ""
	}
	return box.LastGoodPath(DataDir)
}

// startBootLogFile writes PID 1's log to logs/boot.log on the data
// partition, from the first line of this boot, keeping the previous
// boots' logs as boot.log.1 (the last) to boot.log.N.
func (p *pid1) startBootLogFile() {
	if err := os.MkdirAll(bootLogDir, 0o700); err != nil {
		Logf("data partition: warning: %v", err)
		return
	}
	rotateLogs(bootLogDir, "boot.log", bootLogsKept)
	f, err := os.OpenFile(filepath.Join(bootLogDir, "boot.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		Logf("data partition: warning: %v", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.data.mu.Lock()
	p.data.stopLog = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	p.data.mu.Unlock()
	lines, more := Log.Follow(ctx)
	goSafe("boot log file", func() {
		defer close(done)
		w := bufio.NewWriter(f)
		for _, l := range lines {
			fmt.Fprintln(w, l.String())
		}
		w.Flush()
		for l := range more {
			fmt.Fprintln(w, l.String())
			// One write per line: the log must be on disk when the box
			// hangs, and the kernel's writeback makes it durable soon.
			w.Flush()
		}
		f.Sync()
		f.Close()
	})
}

// closeBootLogFile ends the log file at shutdown, before the unmount: an
// open file would keep the data partition busy and its journal dirty.
func (p *pid1) closeBootLogFile() {
	p.data.mu.Lock()
	stop := p.data.stopLog
	p.data.stopLog = nil
	p.data.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// rotateLogs shifts name.(n-1) to name.n, ..., name to name.1.
func rotateLogs(dir, name string, keep int) {
	for i := keep - 1; i >= 1; i-- {
		os.Rename(filepath.Join(dir, fmt.Sprintf("%s.%d", name, i)), filepath.Join(dir, fmt.Sprintf("%s.%d", name, i+1)))
	}
	os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".1"))
}

// hasDisk reports whether any block device but loop and RAM disks exists;
// true when that cannot be read, so that ext4 is loaded as before.
func hasDisk() bool {
	ents, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return true
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "loop") && !strings.HasPrefix(n, "ram") && !strings.HasPrefix(n, "zram") {
			return true
		}
	}
	return false
}
