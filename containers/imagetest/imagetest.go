// Package imagetest builds the small OCI image that container tests run:
// Debian's busybox-static in one layer, so no test needs a registry on the
// internet. It depends on go-containerregistry only, so the containers
// package's own tests can use it too.
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/nucbox/nucbox/test/ci"
)

// BusyboxPath is where Debian's busybox-static installs the binary.
const BusyboxPath = "/bin/busybox"

// applets are linked to busybox in the image: what the tests' commands use.
var applets = []string{"sh", "cat", "grep", "sed", "tr", "sleep", "echo", "ping", "ip", "kill", "true", "id", "ls", "hostname"}

// Layer is busybox as /bin/busybox with its applets as symlinks, and an
// /etc/passwd with root and an unprivileged user. Without busybox-static
// the test skips, or fails when CI=true.
func Layer(tb testing.TB) v1.Layer {
	tb.Helper()
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		ci.Missing(tb, "%s missing (Debian package busybox-static; make deps installs it): %v", BusyboxPath, err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			tb.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/", "root/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg}, bb)
	for _, a := range applets {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox"}, nil)
	}
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644},
		[]byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"))
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	data := b.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// Busybox is an image of Layer for linux/amd64 whose config has the given
// cmd and env.
func Busybox(tb testing.TB, cmd, env []string) v1.Image {
	tb.Helper()
	img, err := mutate.AppendLayers(empty.Image, Layer(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = cmd
	cf.Config.Env = env
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		tb.Fatal(err)
	}
	return img
}
