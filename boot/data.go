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

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/boot/datapart"
	"github.com/nucbox/nucbox/boot/slot"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image/esp"
	"golang.org/x/sys/unix"
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
	// state is what the status shows, nil before the data phase.
	state *api.DataPartition
	// stopLog ends the boot log file, nil without one.
	stopLog func()
}

func (d *dataPartition) isMounted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mounted
}

// status is the data partition as the box shows it, nil before the data
// phase.
func (d *dataPartition) status() *api.DataPartition {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return nil
	}
	s := *d.state
	if s.State == api.DataMounted {
		if size, free, ok := fsSpace(s.MountPoint); ok {
			s.Size, s.Free = size, free
		}
	}
	return &s
}

// setupDataPartition finds, creates or grows, checks and mounts the data
// partition. Without one the box runs on; its state then lasts until
// power off, and the log says so. One that exists but cannot be mounted
// is left as it is: the box runs on without it and holds the workloads
// whose files are on it.
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
	st := dataState(res, err)
	p.data.mu.Lock()
	p.data.state = st
	if err == nil {
		p.data.mounted, p.data.res = true, res
	}
	p.data.mu.Unlock()
	var de *datapart.DamagedError
	switch {
	case errors.Is(err, datapart.ErrNoDisk):
		Logf("data partition: none, and no boot disk to make one on; state lasts until power off")
		return true
	case err != nil:
		// One line that says it all, then what an operator can do.
		Logf("data partition: %s: %s; workloads that need it are held, the box runs on without it",
			dash(st.Device), st.Reason)
		if errors.As(err, &de) {
			Logf("data partition: %s", de.Help())
		}
		if gerr := guardMountPoint(DataDir); gerr != nil {
			Logf("data partition: warning: %s stays writable: %v", DataDir, gerr)
		}
		return true
	}
	line := fmt.Sprintf("data partition: %s ready in %d ms, mounted at %s", res.Device, time.Since(start).Milliseconds(), DataDir)
	if size, free, ok := fsSpace(DataDir); ok {
		line += fmt.Sprintf(" (ext4, %s, %s free)", humanBytes(size), humanBytes(free))
	}
	if st.Note != "" {
		line += "; " + st.Note
	}
	Logf("%s", line)
	p.startBootLogFile()
	return true
}

// dataState is the data partition as the status shows it, from what
// datapart.Setup returned; the space is read when asked.
func dataState(res *datapart.Result, err error) *api.DataPartition {
	st := &api.DataPartition{MountPoint: DataDir}
	if res != nil {
		st.Device, st.Size = res.Device, res.Size
	}
	var de *datapart.DamagedError
	switch {
	case errors.Is(err, datapart.ErrNoDisk):
		st.State = api.DataNone
	case err != nil:
		st.State, st.Reason = api.DataNotMounted, datapart.Reason(err)
		if errors.As(err, &de) {
			st.Device = de.Device
		}
	default:
		st.State, st.FS, st.Note, st.RepairedFrom = api.DataMounted, "ext4", datapart.Note(res), res.Recovered
	}
	return st
}

// guardMountPoint mounts an empty, read-only filesystem at dir, the data
// partition's mount point, while the partition exists but is not
// mounted: whatever would still write its files there (a VM disk, an
// image cache, a volume) then fails, rather than writing them to RAM on
// the root, where they would pass for the data partition's and vanish
// at power off.
func guardMountPoint(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return unix.Mount("nucbox-data-not-mounted", dir, "tmpfs",
		unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555")
}

// fsSpace is the size of the filesystem mounted at dir and what is left
// of it for files.
func fsSpace(dir string) (size, free int64, ok bool) {
	var s unix.Statfs_t
	if unix.Statfs(dir, &s) != nil {
		return 0, 0, false
	}
	return int64(s.Blocks) * s.Bsize, int64(s.Bavail) * s.Bsize, true
}

// humanBytes is a size in MiB or GiB, as the console shows sizes.
func humanBytes(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
	}
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
