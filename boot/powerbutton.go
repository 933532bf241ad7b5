package boot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The ACPI power button (QEMU's system_powerdown, a NUC's front button)
// reaches userspace only as a key press on an input device that the button
// driver creates; with no acpid it does nothing unless PID 1 reads it.

const (
	evKey      = 0x01
	keyPower   = 116
	inputEvent = 24 // struct input_event on 64-bit: timeval, type, code, value
)

// inputEventT is one struct input_event without its timestamp.
type inputEventT struct {
	typ   uint16
	code  uint16
	value int32
}

// parseInputEvents decodes whole events from b.
func parseInputEvents(b []byte) []inputEventT {
	var out []inputEventT
	for ; len(b) >= inputEvent; b = b[inputEvent:] {
		out = append(out, inputEventT{
			typ:   binary.NativeEndian.Uint16(b[16:]),
			code:  binary.NativeEndian.Uint16(b[18:]),
			value: int32(binary.NativeEndian.Uint32(b[20:])),
		})
	}
	return out
}

// isPowerPress reports whether ev is the power key going down.
func isPowerPress(ev inputEventT) bool {
	return ev.typ == evKey && ev.code == keyPower && ev.value == 1
}

// findPowerButtons returns the event devices of the input devices named
// "Power Button" (ACPI creates one for the fixed-feature button and one
// per PNP0C0C device).
func findPowerButtons(sysInput string) []string {
	names, _ := filepath.Glob(filepath.Join(sysInput, "event*", "device", "name"))
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil || strings.TrimSpace(string(b)) != "Power Button" {
			continue
		}
		out = append(out, "/dev/input/"+filepath.Base(filepath.Dir(filepath.Dir(n))))
	}
	return out
}

// watchPowerButtons starts watching the power buttons once the button
// and evdev modules have had their chance to load.
func (p *pid1) watchPowerButtons() {
	p.modules.powerButtons.Do(func() {
		goSafe("power button", func() {
			var devs []string
			// The device node can trail the module load by a moment.
			for i := 0; i < 20 && len(devs) == 0; i++ {
				if devs = findPowerButtons("/sys/class/input"); len(devs) == 0 {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if len(devs) == 0 {
				Logf("power button: none found; power off with SIGTERM or the API")
				return
			}
			Logf("power button: watching %s", strings.Join(devs, " "))
			for _, d := range devs {
				goLoop("power button "+d, func() { p.readPowerButton(d) })
			}
		})
	})
}

func (p *pid1) readPowerButton(dev string) {
	f, err := os.Open(dev)
	if err != nil {
		Logf("power button: %v", err)
		return
	}
	defer f.Close()
	buf := make([]byte, inputEvent*16)
	for {
		n, err := f.Read(buf)
		if err != nil {
			Logf("power button: %s: %v", dev, err)
			return
		}
		for _, ev := range parseInputEvents(buf[:n]) {
			if isPowerPress(ev) {
				p.shutdown(PowerOff, "power button")
			}
		}
	}
}
