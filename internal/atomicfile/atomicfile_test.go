package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestWriteFileContentAndMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	for _, c := range []struct {
		data []byte
		perm os.FileMode
	}{
		{[]byte("hostname: nuc1\n"), 0o644},
		{[]byte("hostname: nuc2\n"), 0o600},
		{nil, 0o640},
	} {
		if err := WriteFile(p, c.data, c.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.data) {
			t.Errorf("content = %q, want %q", got, c.data)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.perm {
			t.Errorf("mode = %v, want %v", fi.Mode().Perm(), c.perm)
		}
	}
	assertOnly(t, dir, "config.yaml")
}

func TestReplaceFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lease.json")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Replace(p, func(w io.Writer) error {
		io.WriteString(w, "half of the new cont")
		return boom
	}, 0o600)
	if !errors.Is(err, boom) {
		t.Fatalf("Replace error = %v, want %v", err, boom)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in write was swallowed")
			}
		}()
		Replace(p, func(w io.Writer) error {
			io.WriteString(w, "partial")
			panic("writer crashed")
		}, 0o600)
	}()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old" {
		t.Errorf("content after failed writes = %q, want %q", got, "old")
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode after failed writes = %v, want 0644", fi.Mode().Perm())
	}
	assertOnly(t, dir, "lease.json")
}

func TestReplaceMissingDir(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "file"), []byte("x"), 0o644)
	if err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

// TestConcurrentWritersNeverTear has several writers replace one file with
// large, uniform contents while readers check every read is one writer's
// whole content.
func TestConcurrentWritersNeverTear(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	const size = 256 << 10
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	if err := WriteFile(p, content(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		writeErr = make(chan error, 8)
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; n < 30; n++ {
				if err := WriteFile(p, content(w), 0o644); err != nil {
					writeErr <- err
					return
				}
			}
		}(w)
	}
	var readers sync.WaitGroup
	var torn, reads int
	var mu sync.Mutex
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(p)
				mu.Lock()
				reads++
				if err != nil || len(b) != size || bytes.Count(b, b[:1]) != size {
					torn++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(writeErr)
	for err := range writeErr {
		t.Error(err)
	}
	if torn > 0 {
		t.Errorf("%d of %d reads saw a missing, short or mixed file", torn, reads)
	}
	if reads == 0 {
		t.Error("readers never ran")
	}
	assertOnly(t, dir, "state")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("directory holds %v, want %v (temporary files left behind?)", got, names)
	}
}
