package harness

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/nucbox/nucbox/internal/natsort"
)

func TestNewestKernel(t *testing.T) {
	boot := t.TempDir()
	for _, v := range []string{"6.1.0-9-amd64", "6.1.0-10-amd64", "5.10.0-30-amd64", "6.1.0-10-rt-amd64x"} {
		os.WriteFile(filepath.Join(boot, "vmlinuz-"+v), nil, 0o644)
	}
	k, err := newestKernel(boot, "/mods")
	if err != nil {
		t.Fatal(err)
	}
	want := Kernel{Path: filepath.Join(boot, "vmlinuz-6.1.0-10-amd64"), Version: "6.1.0-10-amd64", Modules: "/mods/6.1.0-10-amd64"}
	if k != want {
		t.Errorf("got %+v\nwant %+v", k, want)
	}
	if _, err := newestKernel(t.TempDir(), "/mods"); err == nil || !strings.Contains(err.Error(), "linux-image-amd64") {
		t.Errorf("empty /boot: err = %v, want a hint at the package", err)
	}
}

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"6.1.0-9-amd64", "6.1.0-10-amd64", true},
		{"6.1.0-10-amd64", "6.1.0-9-amd64", false},
		{"5.19.0-1-amd64", "6.1.0-1-amd64", true},
		{"6.1.0-1-amd64", "6.1.0-1-amd64", false},
		{"6.1", "6.1.0", true},
	} {
		if got := natsort.Less(tt.a, tt.b); got != tt.less {
			t.Errorf("natsort.Less(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestRequireMessage(t *testing.T) {
	// The message is the user's only guide when tests skip: it must say
	// what is missing, how to get it, and how CI treats it.
	for _, want := range []string{"root", QEMU, "Debian kernel", "make deps", "CI=true"} {
		if !strings.Contains(requireMessage, want) {
			t.Errorf("message lacks %q: %s", want, requireMessage)
		}
	}
}

func TestParseReady(t *testing.T) {
	line := `[    4.020000] nucbox: ready {"hostname":"nuc1","config":"ab12","config_source":"/etc/nucbox/config.yaml","init_ms":1850,"ready_ms":4020,"rss_kib":9000,"modules":12,"root":"tmpfs","extra":true}`
	m := regexp.MustCompile(ReadyPattern).FindStringSubmatch(line)
	if m == nil {
		t.Fatal("ReadyPattern does not match a timestamped ready line")
	}
	ri, err := ParseReady(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if ri.Hostname != "nuc1" || ri.Config != "ab12" || ri.ConfigSource != "/etc/nucbox/config.yaml" ||
		ri.InitMS != 1850 || ri.ReadyMS != 4020 || ri.RSSKiB != 9000 || ri.Modules != 12 || ri.Root != "tmpfs" ||
		ri.Raw["extra"] != true {
		t.Errorf("parsed %+v", ri)
	}
	if _, err := ParseReady(`{"hostname":"b","modules":"three"}`); err == nil {
		t.Error("a summary whose fields have the wrong types was accepted")
	}
	if _, err := ParseReady(`{"hostname":`); err == nil {
		t.Error("truncated JSON accepted")
	}

	both := regexp.MustCompile(ReadyOrFailedPattern)
	f := both.FindStringSubmatch(`nucbox: failed: config: /etc/nucbox/config.yaml:3:7: unknown field "hostnme"`)
	if f == nil || f[1] != "" || !strings.HasPrefix(f[2], "config: ") {
		t.Errorf("failed line: %q", f)
	}
	if r := both.FindStringSubmatch(line); r == nil || r[1] == "" {
		t.Errorf("ready line: %q", r)
	}
}

func TestModuleLoadOrder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(
		"kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"+
			"kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"+
			"kernel/net/llc/llc.ko:\n"+
			"kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n"+
			"kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"+
			"kernel/net/core/failover.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/tty/serial/8250/8250.ko\n"), 0o644)

	got, err := moduleLoadOrder(dir, []string{"bridge", "virtio-net", "8250", "stp"})
	if err != nil {
		t.Fatal(err)
	}
	want := "kernel/net/llc/llc.ko kernel/net/802/stp.ko kernel/net/bridge/bridge.ko " +
		"kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko kernel/drivers/net/virtio_net.ko"
	if strings.Join(got, " ") != want {
		t.Errorf("order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, err := moduleLoadOrder(dir, []string{"nosuch"}); err == nil {
		t.Error("unknown module accepted")
	}
}

func TestTinyInitramfsContents(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("not really busybox"), 0o755)
	defer func(old string) { Busybox = old }(Busybox)
	Busybox = bb
	mods := filepath.Join(dir, "mods")
	os.MkdirAll(filepath.Join(mods, "kernel"), 0o755)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/a.ko"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/b.ko"), []byte("B"), 0o644)

	p := filepath.Join(dir, "tiny.cpio.gz")
	err := writeTiny(p, Tiny{Script: "echo hello", Modules: []string{"a"},
		Files: map[string]string{"/etc/x.sh": "#!/bin/sh\n", "etc/data": "d"}}, Kernel{Modules: mods})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]cpio.Record{}
	for _, r := range recs {
		files[r.Name] = r
	}
	for _, name := range []string{"init", "bin/busybox", "lib/modules/a.ko", "lib/modules/b.ko", "etc/x.sh", "etc/data", "etc", "bin"} {
		if _, ok := files[name]; !ok {
			t.Errorf("missing %s in %v", name, recs)
		}
	}
	init, _ := io.ReadAll(io.NewSectionReader(files["init"].ReaderAt, 0, int64(files["init"].FileSize)))
	s := string(init)
	if i, j, k := strings.Index(s, "insmod /lib/modules/b.ko"), strings.Index(s, "insmod /lib/modules/a.ko"), strings.Index(s, "echo hello"); i < 0 || j < i || k < j {
		t.Errorf("init does not load b, then a, then run the script:\n%s", s)
	}
	if files["etc/x.sh"].Mode&0o111 == 0 || files["etc/data"].Mode&0o111 != 0 {
		t.Errorf("modes: x.sh %o, data %o", files["etc/x.sh"].Mode, files["etc/data"].Mode)
	}
}

func TestImageSizes(t *testing.T) {
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("070701 nucbox "), 1000)
	kernel := filepath.Join(dir, "vmlinuz")
	os.WriteFile(kernel, make([]byte, 123), 0o644)

	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(payload)
	zw.Close()
	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	gw.Write(payload)
	gw.Close()

	for name, content := range map[string][]byte{"zst": zb.Bytes(), "gz": gb.Bytes(), "cpio": payload} {
		p := filepath.Join(dir, "initramfs."+name)
		os.WriteFile(p, content, 0o644)
		s, err := imageSizes(kernel, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Kernel != 123 || s.Initramfs != int64(len(content)) || s.InitramfsUncompressed != int64(len(payload)) {
			t.Errorf("%s: %+v", name, s)
		}
	}
}

func TestProgressLines(t *testing.T) {
	in := "packing  10%\r packing 50%\rpacking 100%\nwrote initramfs 12 MiB\r\n"
	if got, want := progressLines([]byte(in)), "packing 100%\nwrote initramfs 12 MiB"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
