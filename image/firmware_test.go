package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/vmm"
)

// TestFirmwareCoversCmdline runs the host's QEMU on the firmware the
// image keeps, and on nothing else, with the devices of every command
// line vmm makes: a -kernel boot, a disk, a CD-ROM, the cloud-init seed,
// VNC (VGA, USB tablet) and a NIC that boots from the network (its ROM
// is loaded). QEMU finds its firmware relative to its executable, so a
// copy of it in a directory with the image's files sees exactly those;
// it realizes every device, and loads every ROM, before it answers QMP.
// The control removes the network ROM and wants QEMU to fail: a file the
// image drops that vmm's devices need fails this test.
func TestFirmwareCoversCmdline(t *testing.T) {
	if _, err := os.Stat(DefaultQEMU); err != nil {
		ci.Missing(t, "no QEMU: %v (apt-get install qemu-system-x86, part of make deps)", err)
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		ci.Missing(t, "no /boot/vmlinuz-* for the -kernel boot (apt-get install linux-image-amd64, part of make deps)")
	}
	set, err := findQEMU(context.Background(), "", DefaultQEMU, DefaultQemuImg)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	put := func(dst, src string, perm os.FileMode) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, perm); err != nil {
			t.Fatal(err)
		}
	}
	qemu := filepath.Join(root, DefaultQEMU)
	for _, b := range set.binaries {
		if b != DefaultQemuImg {
			put(filepath.Join(root, b), b, 0o755)
		}
	}
	var netROM string
	for name, src := range set.files {
		put(filepath.Join(root, name), src, 0o644)
		// The ROM QEMU 7.2 loads for virtio-net-pci.
		if filepath.Base(name) == "efi-virtio.rom" {
			netROM = filepath.Join(root, name)
		}
	}

	args := fullCmdline(t, kernels[0])
	if err := startsWith(qemu, args); err != nil {
		t.Fatalf("QEMU with the image's firmware and vmm's devices: %v", err)
	}

	// Control: without the NIC's boot ROM the same command line fails.
	if netROM == "" {
		t.Fatal("the image keeps no virtio-net ROM")
	}
	if err := os.Remove(netROM); err != nil {
		t.Fatal(err)
	}
	err = startsWith(qemu, args)
	t.Logf("control, without %s: %v", filepath.Base(netROM), err)
	if err == nil || !strings.Contains(err.Error(), "virtio") {
		t.Errorf("QEMU without %s: %v, want it to fail for the ROM (the test cannot see a missing file otherwise)", filepath.Base(netROM), err)
	}
}

// fullCmdline is vmm's command line for a guest with every kind of
// device, made runnable without root: the TAP becomes user networking and
// VNC a unix socket.
func fullCmdline(t *testing.T, kernel string) []string {
	t.Helper()
	dir := t.TempDir()
	file := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	display := 0
	s := vmm.Spec{
		Name: "fw", StateDir: dir, CPUs: 1, Memory: 128 << 20, Machine: "q35", Accel: vmm.TCG,
		Kernel: kernel,
		Disks:  []vmm.Disk{{Path: file("disk.raw", 1<<20), Format: "raw"}},
		CDROMs: []string{file("cd.iso", 0)},
		// The NIC boots (its ROM loads), then the disk.
		Boot:      "nc",
		NICs:      []vmm.NIC{{TAP: "tapfw0", MAC: net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}}},
		VNC:       &display,
		CloudInit: &vmm.CloudInit{UserData: "#cloud-config\n"},
	}
	if err := os.MkdirAll(s.Paths().Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file(strings.TrimPrefix(s.Paths().Seed, dir+"/"), 0)
	args, err := vmm.Cmdline(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-netdev":
			id := args[i+1][strings.Index(args[i+1], "id="):]
			id, _, _ = strings.Cut(id, ",")
			args[i+1] = "user," + id
		case "-vnc":
			args[i+1] = "unix:" + filepath.Join(dir, "vnc.sock")
		}
	}
	if !strings.Contains(strings.Join(args, " "), "bootindex") {
		t.Fatalf("no device boots in %q", args)
	}
	return args
}

// startsWith runs QEMU with args until it answers a QMP command, which it
// does once every device is realized, and stops it.
func startsWith(qemu string, args []string) error {
	var qmpPath string
	for i, a := range args {
		if a == "-qmp" {
			qmpPath, _, _ = strings.Cut(strings.TrimPrefix(args[i+1], "unix:"), ",")
		}
	}
	os.Remove(qmpPath)
	var stderr bytes.Buffer
	cmd := exec.Command(qemu, args...)
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("QEMU exited (%v): %s", err, strings.TrimSpace(stderr.String()))
		default:
		}
		c, err := net.Dial("unix", qmpPath)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		defer c.Close()
		c.SetReadDeadline(deadline)
		dec := json.NewDecoder(c)
		var greeting map[string]any
		if err := dec.Decode(&greeting); err != nil {
			return fmt.Errorf("no QMP greeting: %v; QEMU said: %s", err, strings.TrimSpace(stderr.String()))
		}
		if _, ok := greeting["QMP"]; !ok {
			return fmt.Errorf("QMP greeting %v", greeting)
		}
		// The greeting may come before the machine is built; a command's
		// reply comes from the main loop, after it.
		if _, err := io.WriteString(c, `{"execute":"qmp_capabilities","id":1}{"execute":"query-status","id":2}`); err != nil {
			return err
		}
		for {
			var msg struct {
				ID     int             `json:"id"`
				Return json.RawMessage `json:"return"`
			}
			if err := dec.Decode(&msg); err != nil {
				return fmt.Errorf("QMP: %v; QEMU said: %s", err, strings.TrimSpace(stderr.String()))
			}
			if msg.ID == 2 && msg.Return != nil {
				return nil
			}
		}
	}
	return fmt.Errorf("no QMP socket in 60 s; QEMU said: %s", strings.TrimSpace(stderr.String()))
}
