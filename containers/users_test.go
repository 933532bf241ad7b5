package containers

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// resolveWithin runs ResolveUser and fails the test if it does not come
// back within 5 s: the old lookup hung for ever on a FIFO.
func resolveWithin(t *testing.T, spec, rootfs string) (specs.User, error) {
	t.Helper()
	type result struct {
		u   specs.User
		err error
	}
	ch := make(chan result, 1)
	go func() {
		u, err := ResolveUser(spec, rootfs)
		ch <- result{u, err}
	}()
	select {
	case r := <-ch:
		return r.u, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("ResolveUser(%q) hangs", spec)
	}
	return specs.User{}, nil
}

func TestUserLookupRefusesOddFiles(t *testing.T) {
	host := t.TempDir()
	hostPasswd := filepath.Join(host, "passwd")
	if err := os.WriteFile(hostPasswd, []byte("hostonly:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ents []tarEntry
		user string
		// say is in the error; empty means the lookup succeeds with uid.
		say string
		uid uint32
	}{
		{name: "FIFO at /etc/passwd", ents: []tarEntry{{name: "etc/", typ: tar.TypeDir}, {name: "etc/passwd", typ: tar.TypeFifo}},
			user: "www", say: "not a regular file"},
		{name: "directory at /etc/group", ents: []tarEntry{{name: "etc/group/", typ: tar.TypeDir}},
			user: "0:0", say: "/etc/group is not a regular file"},
		{name: "symlink to the host's file stays in the image", ents: []tarEntry{
			{name: "etc/", typ: tar.TypeDir}, {name: "etc/passwd", typ: tar.TypeSymlink, link: hostPasswd}},
			user: "hostonly", say: "no matching entries"},
		{name: "relative symlink climbing out stays in the image", ents: []tarEntry{
			{name: "etc/", typ: tar.TypeDir}, {name: "etc/passwd", typ: tar.TypeSymlink, link: "../../../../../../../.." + hostPasswd}},
			user: "hostonly", say: "no matching entries"},
		{name: "symlink inside the image is followed", ents: []tarEntry{
			{name: "etc/", typ: tar.TypeDir}, {name: "usr/share/", typ: tar.TypeDir},
			{name: "usr/share/passwd", body: "www:x:33:33::/:/bin/sh\n"},
			{name: "etc/passwd", typ: tar.TypeSymlink, link: "/usr/share/passwd"}},
			user: "www", uid: 33},
		{name: "numeric user without files", user: "1000:1000", uid: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := Unpack(layer(t, tc.ents...), root, Flatten); err != nil {
				t.Fatal(err)
			}
			u, err := resolveWithin(t, tc.user, root)
			if tc.say == "" {
				if err != nil || u.UID != tc.uid {
					t.Errorf("ResolveUser(%q) = %+v, %v; want uid %d", tc.user, u, err, tc.uid)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.say) {
				t.Errorf("ResolveUser(%q) = %+v, %v; want an error saying %q", tc.user, u, err, tc.say)
			} else {
				t.Logf("error: %v", err)
			}
		})
	}
}

func TestUserLookupSizeCap(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	p := filepath.Join(root, "etc", "passwd")
	if err := os.WriteFile(p, []byte("www:x:33:33::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u, err := resolveWithin(t, "www", root); err != nil || u.UID != 33 {
		t.Fatalf("small passwd: %+v, %v", u, err)
	}
	// Sparse: 10 GiB that take no room.
	if err := os.Truncate(p, 10<<30); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveWithin(t, "www", root); err == nil || !strings.Contains(err.Error(), "more than the 1048576 read") {
		t.Errorf("10 GiB passwd: %v", err)
	}
}

func TestUserLookupRefusesDevices(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	// /dev/zero's numbers: read as a file it never ends.
	if err := unix.Mknod(filepath.Join(root, "etc", "passwd"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveWithin(t, "www", root); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("device at /etc/passwd: %v", err)
	}
}
