package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
)

// slotBox is testBox booted from slot a: it takes images that start with
// "MZ" (a PE file) and refuses the rest as the box would.
type slotBox struct {
	*testBox
	mu    sync.Mutex
	got   [][]byte
	tries []int
}

func (b *slotBox) Upgrade(image []byte, tries int) (api.UpgradeResult, error) {
	if !bytes.HasPrefix(image, []byte("MZ")) {
		return api.UpgradeResult{}, fmt.Errorf("%w: not a unified kernel image", api.ErrBadImage)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, image)
	b.tries = append(b.tries, tries)
	return api.UpgradeResult{From: "a", Slot: "b", File: fmt.Sprintf("nucbox-b+%d.efi", tries), Generation: 2, Version: "1.2.3", Tries: tries, Bytes: len(image)}, nil
}

func TestUpgradeGolden(t *testing.T) {
	box := &slotBox{testBox: &testBox{}}
	ts := serveBox(t, box)
	t.Setenv("NUCBOX_TOKEN", "")
	dir := t.TempDir()
	good := filepath.Join(dir, "nucbox.efi")
	os.WriteFile(good, []byte("MZ fake image"), 0o644)
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("hello"), 0o644)
	remote := []string{"--host", "HOST", "--token", cliToken, "--insecure"}
	tests := []goldenCase{
		{"upgrade-help", []string{"upgrade", "--help"}, 0},
		{"upgrade", append([]string{"upgrade", "DIR/nucbox.efi", "--tries", "2"}, remote...), 0},
		{"upgrade-no-reboot", append([]string{"upgrade", "DIR/nucbox.efi", "--no-reboot"}, remote...), 0},
		{"upgrade-not-an-image", append([]string{"upgrade", "DIR/notes.txt"}, remote...), 1},
		{"upgrade-bad-tries", append([]string{"upgrade", "DIR/nucbox.efi", "--tries", "0"}, remote...), 2},
		{"upgrade-no-file", []string{"upgrade"}, 2},
	}
	runGolden(t, "remote-", tests, strings.NewReplacer("HOST", ts.URL, "DIR", dir), strings.NewReplacer(ts.URL, "https://HOST", dir, "DIR"))
	// Two images arrived, with the tries asked for; the first upgrade
	// rebooted the box, the second did not.
	if len(box.got) != 2 || box.tries[0] != 2 || box.tries[1] != 3 || string(box.got[0]) != "MZ fake image" {
		t.Errorf("box got %d images with tries %v", len(box.got), box.tries)
	}
	if n := len(box.testBox.power); n != 1 {
		t.Errorf("%d power requests, want one reboot from the first upgrade", n)
	}
}
