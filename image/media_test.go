package image

import (
	"bytes"
	"context"
	"debug/pe"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/image/disk"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/test/ci"
)

// requireSystemdBoot skips without Debian's systemd-boot-efi, and fails
// under CI, whose machines must have it.
func requireSystemdBoot(t *testing.T) {
	t.Helper()
	for _, f := range []string{DefaultStub, DefaultBootLoader} {
		if _, err := os.Stat(f); err != nil {
			ci.Missing(t, "%v (apt-get install systemd-boot-efi, part of make deps)", err)
		}
	}
}

func TestBuildMedia(t *testing.T) {
	requireSystemdBoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	o := fixtureOptions(t)
	o.UKI = true
	o.DiskSize = 300 << 20
	o.ESPSize = 64 << 20
	o.PXE = true
	o.ConfigURL = "http://10.0.2.2:8000/configs/${mac}.yaml"
	o.ConfigKey, _ = writeKeyPair(t)
	o.Version = "v9.8.7"
	var log bytes.Buffer
	o.Progress = &log
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	kernel, _ := os.ReadFile(res.Kernel)
	initrd, _ := os.ReadFile(res.Initramfs)

	efi, err := os.ReadFile(filepath.Join(o.OutDir, UKIName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pe.NewFile(bytes.NewReader(efi)); err != nil {
		t.Fatalf("nucbox.efi is not a PE file: %v", err)
	}
	s, err := uki.Read(efi)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Linux, kernel) || !bytes.Equal(s.Initrd, initrd) {
		t.Error("the UKI's .linux or .initrd differ from vmlinuz and the initramfs")
	}
	if string(s.Cmdline) != DefaultCmdline || string(s.Uname) != "6.1.0-test" {
		t.Errorf(".cmdline %q, .uname %q", s.Cmdline, s.Uname)
	}
	rel, err := uki.ParseOSRelease(s.OSRel)
	if err != nil || rel.ID != "nucbox" || rel.VersionID != "v9.8.7" || rel.ImageVersion != 1 || rel.PrettyName != "nucbox v9.8.7" {
		t.Errorf(".osrel %q: %+v, %v", s.OSRel, rel, err)
	}

	img := filepath.Join(o.OutDir, DiskName)
	fi, err := os.Stat(img)
	if err != nil || fi.Size() != o.DiskSize {
		t.Fatalf("disk image: %v, %v", fi, err)
	}
	slot, err := disk.ReadFile(img, esp.SlotPath(esp.SlotA))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(slot, efi) {
		t.Error("slot A on the ESP differs from nucbox.efi")
	}
	loader, _ := os.ReadFile(DefaultBootLoader)
	if got, err := disk.ReadFile(img, esp.BootLoader); err != nil || !bytes.Equal(got, loader) {
		t.Errorf("%s differs from %s (%v)", esp.BootLoader, DefaultBootLoader, err)
	}

	dir := filepath.Join(o.OutDir, PXEDir)
	for name, want := range map[string][]byte{pxe.KernelName: kernel, pxe.InitrdName: initrd} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("pxe/%s: %v, or differs", name, err)
		}
	}
	script, _ := os.ReadFile(filepath.Join(dir, pxe.ScriptName))
	if !strings.Contains(string(script), "kernel vmlinuz "+DefaultCmdline+" nucbox.config=http://10.0.2.2:8000/configs/${mac}.yaml initrd=initramfs\n") {
		t.Errorf("boot.ipxe:\n%s", script)
	}
	for _, want := range []string{"[7/9] uki", "[8/9] disk", "[9/9] pxe"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress does not say %q:\n%s", want, log.String())
		}
	}
	des, _ := os.ReadDir(o.OutDir)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			t.Errorf("temporary file %s left behind", de.Name())
		}
	}
}

func TestBuildMediaBadBootLoaderLeavesNothing(t *testing.T) {
	requireSystemdBoot(t)
	o := fixtureOptions(t)
	o.UKI = true
	o.DiskSize = 300 << 20
	o.BootLoader = "/nonexistent/systemd-bootx64.efi"
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "systemd-bootx64.efi") {
		t.Fatalf("err = %v", err)
	}
	des, _ := os.ReadDir(o.OutDir)
	for _, de := range des {
		t.Errorf("failed build left %s behind", de.Name())
	}
}

func TestBuildWithoutMedia(t *testing.T) {
	o := fixtureOptions(t)
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.UKI != "" || res.Disk != "" || res.PXEDir != "" {
		t.Errorf("media without asking: %+v", res)
	}
	for _, n := range []string{UKIName, DiskName, PXEDir} {
		if _, err := os.Stat(filepath.Join(o.OutDir, n)); err == nil {
			t.Errorf("%s written without asking", n)
		}
	}
	a := readArchive(t, res.Initramfs)
	for _, f := range append(append([]string{}, DefaultFSTools...), mke2fsConf) {
		a.get(t, strings.TrimPrefix(f, "/"))
	}
}
