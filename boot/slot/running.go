package slot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nucbox/nucbox/image/esp"
)

// ReadRunning opens the unified kernel image this boot came from on the
// ESP and passes it to fn, with its path on the ESP; the ESP is mounted
// for fn only. A box that did not boot from a slot has none.
func (s *Slot) ReadRunning(fn func(img io.ReaderAt, path string) error) error {
	if s == nil || s.Name == "" {
		return errors.New("the box did not boot from a slot of its disk")
	}
	return s.withESP(func(dir string) error {
		linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
		name, _ := slotFile(linux, s.Name)
		if name == "" {
			return fmt.Errorf("slot %s: no image in %s on the ESP", s.Name, esp.LinuxDir)
		}
		f, err := os.Open(filepath.Join(linux, name))
		if err != nil {
			return err
		}
		defer f.Close()
		return fn(f, esp.LinuxDir+"/"+name)
	})
}
