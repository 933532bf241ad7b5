package containers

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCgroupUsage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "memory.current"), []byte("7340032\n"), 0o644)
	u, err := CgroupUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU != 2500*time.Millisecond || u.Memory != 7<<20 {
		t.Errorf("usage %+v", u)
	}

	os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte("user_usec 1\n"), 0o644)
	if _, err := CgroupUsage(dir); err == nil {
		t.Error("cpu.stat without usage_usec accepted")
	}
	os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte("usage_usec 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "memory.current"), []byte("max\n"), 0o644)
	if _, err := CgroupUsage(dir); err == nil {
		t.Error("a malformed memory.current accepted")
	}
	if _, err := CgroupUsage(filepath.Join(dir, "gone")); err == nil {
		t.Error("a missing cgroup accepted")
	}
}

func TestLogFollow(t *testing.T) {
	l, err := OpenLog(filepath.Join(t.TempDir(), "c.log"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("one\n"))
	backlog, more, cancel := l.Follow()
	defer cancel()
	if string(backlog) != "one\n" {
		t.Errorf("backlog %q", backlog)
	}
	l.Printf("two")
	select {
	case b := <-more:
		if string(b) != "[nucbox] two\n" {
			t.Errorf("followed %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write did not reach the follower")
	}
	l.Close()
	if _, ok := <-more; ok {
		t.Error("the follow goes on after Close")
	}
	cancel()
	_, more, _ = l.Follow()
	if _, ok := <-more; ok {
		t.Error("a follow of a closed log is open")
	}
}
