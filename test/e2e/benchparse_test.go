package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// TestBootStages: the boot benchmark's phases come from the console's
// stamped lines, each lasting until the next; kernel lines between them
// and the ready line's JSON do not count as phases. Pure Go.
func TestBootStages(t *testing.T) {
	console := strings.Join([]string{
		"[    0.000000] Linux version 6.1.0",
		"[    3.100000] nucbox: starting as PID 1",
		"[    3.120000] nucbox: boot: modules",
		"[    3.500000] virtio_net virtio0 enp0s2: renamed",
		"[    5.120000] nucbox: boot: data partition",
		"[    5.200000] nucbox: boot: apply\r",
		"[    5.700000] nucbox: network: ready in 400 ms",
		"[    5.900000] nucbox: boot: ready",
		"[    5.950000] nucbox: ready {\"hostname\":\"basic\"}",
		"[    6.000000] nucbox: boot: never",
	}, "\n")
	names, ms := stagesOf(console)
	got := make([]string, len(names))
	for i := range names {
		got[i] = fmt.Sprintf("%s=%.0f", names[i], ms[i])
	}
	if want := "mounts=20 modules=2000 data partition=80 apply=700 ready=50"; strings.Join(got, " ") != want {
		t.Errorf("stages %s, want %s", strings.Join(got, " "), want)
	}
}

// TestImageParts: P4's per-part rows put each regular file of the archive
// in its part, count its bytes once and compress each part on its own;
// directories and links count nowhere. The random /init must not shrink
// and the zero-filled module must, or the compressed figures are not of
// the parts' own bytes. Pure Go.
func TestImageParts(t *testing.T) {
	random := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(random)
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	for _, r := range []cpio.Record{
		cpio.Directory("lib", 0o755),
		cpio.StaticFile("init", string(random), 0o755),
		cpio.StaticFile("lib/modules/6.1/kernel/x.ko", string(make([]byte, 1<<20)), 0o644),
		cpio.StaticFile("lib/modules/6.1/modules.dep", "x.ko:\n", 0o644),
		cpio.StaticFile("usr/bin/qemu-img", "qemu-img", 0o755),
		cpio.StaticFile("etc/nucbox/config.yaml", "hostname: x\n", 0o644),
		cpio.Symlink("sbin/init", "/init"),
	} {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	parts, err := archiveParts(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*imagePart{}
	var names []string
	for _, p := range parts {
		got[p.name] = p
		names = append(names, fmt.Sprintf("%s:%d:%d", p.name, p.files, p.raw))
	}
	want := []string{"nucbox (/init):1:1048576", "kernel modules:2:1048582", "other:1:12", "QEMU programs and TCG module:1:8"}
	if !slices.Equal(names, want) {
		t.Fatalf("parts %v, want %v (largest compressed first)", names, want)
	}
	if c := got["nucbox (/init)"].compressedLen; c < 1<<20 {
		t.Errorf("random /init compressed to %d bytes, fewer than its own", c)
	}
	if c := got["kernel modules"].compressedLen; c <= 0 || c > 4096 {
		t.Errorf("zero-filled modules compressed to %d bytes", c)
	}
}
