package boot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func event(typ, code uint16, value int32) []byte {
	b := make([]byte, inputEvent)
	binary.NativeEndian.PutUint64(b[0:], 1700000000) // tv_sec
	binary.NativeEndian.PutUint64(b[8:], 123456)     // tv_usec
	binary.NativeEndian.PutUint16(b[16:], typ)
	binary.NativeEndian.PutUint16(b[18:], code)
	binary.NativeEndian.PutUint32(b[20:], uint32(value))
	return b
}

func TestParseInputEvents(t *testing.T) {
	// What the ACPI button sends for one press: key down, sync, key up,
	// sync; plus a trailing partial event that must be ignored.
	var b []byte
	b = append(b, event(evKey, keyPower, 1)...)
	b = append(b, event(0, 0, 0)...)
	b = append(b, event(evKey, keyPower, 0)...)
	b = append(b, event(0, 0, 0)...)
	b = append(b, 1, 2, 3)
	evs := parseInputEvents(b)
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	var presses int
	for _, ev := range evs {
		if isPowerPress(ev) {
			presses++
		}
	}
	if presses != 1 {
		t.Errorf("%d presses, want 1", presses)
	}
	if isPowerPress(inputEventT{typ: evKey, code: keyPower, value: 2}) {
		t.Error("autorepeat counted as a press")
	}
	if isPowerPress(inputEventT{typ: evKey, code: 142 /* KEY_SLEEP */, value: 1}) {
		t.Error("sleep key counted as power")
	}
}

func TestFindPowerButtons(t *testing.T) {
	root := t.TempDir()
	for ev, name := range map[string]string{
		"event0": "AT Translated Set 2 keyboard",
		"event1": "Power Button",
		"event3": "Power Button",
		"event2": "Sleep Button",
	} {
		dir := filepath.Join(root, ev, "device")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "name"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := findPowerButtons(root)
	if !slices.Equal(got, []string{"/dev/input/event1", "/dev/input/event3"}) {
		t.Errorf("got %v", got)
	}
}
