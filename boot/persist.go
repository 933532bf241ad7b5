package boot

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/datapart"
	"github.com/nucbox/nucbox/boot/slot"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/internal/atomicfile"
)

// DataDir is where the data partition is mounted: the default state
// directory, so VM disks, the image cache, the API's token and
// certificate, container logs and the boot logs land on it.
const DataDir = config.DefaultStateDir

// Files on the data partition that PID 1 itself owns.
var (
	lastGoodFile = filepath.Join(DataDir, "config", "last-good.yaml")
	lastGoodMeta = filepath.Join(DataDir, "config", "last-good.json")
	bootLogDir   = filepath.Join(DataDir, "logs")
)

// bootLogsKept is how many boots' logs stay on the data partition.
const bootLogsKept = 5

var dataPart struct {
	sync.Mutex
	mounted bool
	res     *datapart.Result
}

// setupDataPartition finds, creates or grows, checks and mounts the data
// partition. Without one the box runs on; its state then lasts until
// power off, and the log says so.
func setupDataPartition(booted *slot.Slot) {
	defer recoverLog("data")
	if booted.Name != "" {
		waitBootDisk(30 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// Without a modprobe for the kernel to call, ext4's checksum driver
	// must be in before the mount asks for it.
	if _, err := loadNamedModules("ext4", "crc32c_generic"); err != nil {
		Logf("data partition: warning: %v", err)
	}
	res, err := datapart.Setup(ctx, datapart.Options{
		MountPoint:   DataDir,
		Logf:         Logf,
		BootPartUUID: booted.BootPartUUID,
	})
	switch {
	case errors.Is(err, datapart.ErrNoDisk):
		Logf("data partition: none, and no boot disk to make one on; state lasts until power off")
		return
	case err != nil:
		Logf("data partition: warning: %v; state lasts until power off", err)
		return
	}
	dataPart.Lock()
	dataPart.mounted, dataPart.res = true, res
	dataPart.Unlock()
	Logf("data partition: %s ready in %d ms", res.Device, time.Since(start).Milliseconds())
	startBootLogFile()
}

// waitBootDisk waits for the disk the box booted from to show up: a USB
// stick appears a second or more after its driver loads (usb-storage lets
// the device settle before scanning it), and its SCSI disk driver is not
// coldplugged because the disk did not exist yet.
func waitBootDisk(timeout time.Duration) {
	if _, err := loadNamedModules("sd_mod"); err != nil {
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

func dataMounted() bool {
	dataPart.Lock()
	defer dataPart.Unlock()
	return dataPart.mounted
}

// lastGoodPath is the data partition's config source, empty without one.
func lastGoodPath() string {
	if !dataMounted() {
		return ""
	}
	return lastGoodFile
}

// lastGoodInfo describes the saved config for people reading the disk.
type lastGoodInfo struct {
	Source string    `json:"source"`
	SHA256 string    `json:"sha256"`
	Saved  time.Time `json:"saved"`
}

// rememberGood saves rec as the last known good config, the one the next
// boot falls back to. It is called only for configs that reached ready,
// were applied without a trial, or were confirmed; a config on trial is
// never saved, so a reboot during a try comes back to the previous one.
func rememberGood(rec ConfigRecord) {
	if !dataMounted() || rec.isMaintenance() {
		return
	}
	if old, err := os.ReadFile(lastGoodFile); err == nil && newConfigRecord("", old).SHA256 == rec.SHA256 {
		return
	}
	if err := saveLastGood(rec); err != nil {
		Logf("data partition: warning: saving the last good config: %v", err)
		return
	}
	Logf("data partition: saved config %s as the last known good one", short(rec.SHA256))
}

func saveLastGood(rec ConfigRecord) error {
	if err := os.MkdirAll(filepath.Dir(lastGoodFile), 0o700); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(lastGoodInfo{Source: rec.Source, SHA256: rec.SHA256, Saved: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	// Config first: a crash between the two leaves a config whose
	// description is stale, never a description of a missing config.
	if err := atomicfile.WriteFile(lastGoodFile, rec.Data, 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(lastGoodMeta, append(meta, '\n'), 0o600)
}

// startBootLogFile writes PID 1's log to logs/boot.log on the data
// partition, from the first line of this boot, keeping the previous
// boots' logs as boot.log.1 (the last) to boot.log.N.
func startBootLogFile() {
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
	bootLogFile.Lock()
	bootLogFile.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	bootLogFile.Unlock()
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

var bootLogFile struct {
	sync.Mutex
	stop func()
}

// closeBootLogFile ends the log file at shutdown, before the unmount: an
// open file would keep the data partition busy and its journal dirty.
func closeBootLogFile() {
	bootLogFile.Lock()
	stop := bootLogFile.stop
	bootLogFile.stop = nil
	bootLogFile.Unlock()
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
