package containers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mountinfo of the appliance's PID 1: on the initramfs, the namespace's
// root mount is its own parent; after the bind mount moved onto /, the
// root (the same filesystem, 0:2) has a parent that lies outside the
// chroot. A disk root, a chroot into a directory (no mount on /) and a
// namespace root that is no initramfs complete the cases.
var mountinfos = map[string]string{
	"initramfs": "1 1 0:2 / / rw - rootfs rootfs rw,size=482400k,nr_inodes=120600\n" +
		"20 1 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n",
	"bind": "21 1 0:2 / / rw - rootfs rootfs rw,size=482400k,nr_inodes=120600\n" +
		"22 21 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n",
	"disk": "27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n",
	"chroot": "22 27 0:21 / /proc rw,relatime - proc proc rw\n",
	"nsroot": "1 1 0:30 / / rw - tmpfs tmpfs rw\n",
}

func testRuntime(t *testing.T, mountinfo string) (*Runtime, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	mi := filepath.Join(dir, "mountinfo")
	if err := os.WriteFile(mi, []byte(mountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r, err := New(Options{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"),
		Logger: slog.New(slog.NewTextHandler(&b, nil)), mountinfo: mi})
	if err != nil {
		t.Fatal(err)
	}
	return r, &b
}

// The runtime says once how its containers enter their rootfs: by
// pivot_root where the root allows it, and not at all where it does not.
func TestRuntimeRootfsEntry(t *testing.T) {
	for name, want := range map[string]string{
		"initramfs": ErrInitramfsRoot.Error(),
		"bind":      "",
		"disk":      "",
		"chroot":    "root is no mount (a chroot into a directory)",
		"nsroot":    "root (tmpfs) is the mount namespace's own root",
	} {
		r, b := testRuntime(t, mountinfos[name])
		log := b.String()
		if want == "" {
			if r.rootErr != nil || !strings.Contains(log, `level=INFO msg="rootfs entry: pivot_root"`) {
				t.Errorf("%s: refusal %v, log %s; want pivot_root", name, r.rootErr, log)
			}
			continue
		}
		if r.rootErr == nil || !strings.Contains(r.rootErr.Error(), want) {
			t.Errorf("%s: refusal %v, want %q", name, r.rootErr, want)
		}
		if !strings.Contains(log, `level=ERROR msg="rootfs entry: none"`) || strings.Contains(log, "pivot_root\"") {
			t.Errorf("%s: log %s; want the refusal", name, log)
		}
	}
	if _, err := os.Stat(selfMountinfo); err == nil {
		// This host's own root is no initramfs: the default path works.
		if err := checkRoot(selfMountinfo); err != nil {
			t.Errorf("%s: %v", selfMountinfo, err)
		}
	}
}

// On an initramfs root a container's start fails with the refusal in its
// status and its log, before its image is even looked for; on the bind
// root the same start gets past the check (and fails later, on the image
// this test does not have).
func TestStartRefusedOnInitramfs(t *testing.T) {
	ct := Spec{Name: "web", Image: Source{Transport: TransportOCILayout, Path: "/nonexistent/layout"}}
	for _, root := range []string{"initramfs", "bind"} {
		r, _ := testRuntime(t, mountinfos[root])
		s, err := r.Supervise(ct)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start(context.Background())
		refused := errors.Is(err, ErrInitramfsRoot)
		st := s.Status()
		logs := string(s.Logs())
		if root == "bind" {
			if err == nil || refused || strings.Contains(st.LastError, "initramfs") {
				t.Errorf("bind root: start %v, status %+v; want a failure other than the refusal", err, st)
			}
			continue
		}
		if !refused {
			t.Fatalf("initramfs root: start %v, want %v", err, ErrInitramfsRoot)
		}
		if st.LastError != ErrInitramfsRoot.Error() || st.State != StateExited || st.Digest != "" {
			t.Errorf("initramfs root: status %+v; want the refusal as last error, exited, no image", st)
		}
		if !strings.Contains(logs, ErrInitramfsRoot.Error()) {
			t.Errorf("initramfs root: container log %q lacks the refusal", logs)
		}
	}
}
