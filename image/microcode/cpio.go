package microcode

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// The archive's members, as the kernel's early loader names them.
const (
	Dir   = "kernel/x86/microcode"
	Intel = Dir + "/GenuineIntel.bin"
	AMD   = Dir + "/AuthenticAMD.bin"
)

// vendor is where one vendor's updates are in an unpacked tree.
type vendor struct {
	member string // archive path
	dir    string // under lib/firmware
	suffix string // "" for every file
}

// Debian installs Intel's updates as family-model-stepping files with no
// suffix; AMD's directory also holds .asc signatures, which are not
// microcode.
var vendors = []vendor{
	{Intel, "intel-ucode", ""},
	{AMD, "amd-ucode", ".bin"},
}

// firmwareDirs are where the packages put firmware: /lib/firmware up to
// Debian 12, /usr/lib/firmware after the /usr merge.
var firmwareDirs = []string{"lib/firmware", "usr/lib/firmware"}

// Part is one vendor's file in the archive.
type Part struct {
	Member string
	Files  int   // update files concatenated
	Bytes  int64 // their total size
}

// Archive builds the cpio from the microcode in root, a tree standing
// for / (an unpacked platform), with every record stamped mtime. A
// vendor with no updates in root is left out; none at all is an error,
// since a build that asked for microcode would silently carry none.
func Archive(root string, mtime uint64) ([]byte, []Part, error) {
	var parts []Part
	var recs []cpio.Record
	for _, v := range vendors {
		files, err := vendorFiles(root, v)
		if err != nil {
			return nil, nil, err
		}
		if len(files) == 0 {
			continue
		}
		var data bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("microcode: %w", err)
			}
			data.Write(b)
		}
		parts = append(parts, Part{Member: v.member, Files: len(files), Bytes: int64(data.Len())})
		recs = append(recs, cpio.StaticRecord(data.Bytes(), cpio.Info{Mode: cpio.S_IFREG | 0o644, Name: v.member}))
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("microcode: %s has neither intel-ucode nor amd-ucode under %s", root, strings.Join(firmwareDirs, " or "))
	}
	var dirs []cpio.Record
	for _, d := range []string{"kernel", "kernel/x86", Dir} {
		dirs = append(dirs, cpio.Directory(d, 0o755))
	}
	var out bytes.Buffer
	w := cpio.Newc.Writer(&out)
	for i, r := range append(dirs, recs...) {
		r.Ino = uint64(i + 1)
		r = cpio.MakeReproducible(r)
		r.MTime = mtime
		if err := w.WriteRecord(r); err != nil {
			return nil, nil, fmt.Errorf("microcode archive: %w", err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, nil, fmt.Errorf("microcode archive: %w", err)
	}
	return out.Bytes(), parts, nil
}

// vendorFiles lists a vendor's regular files in name order, from the
// first firmware directory that has the vendor's directory.
func vendorFiles(root string, v vendor) ([]string, error) {
	for _, fw := range firmwareDirs {
		dir := filepath.Join(root, fw, v.dir)
		des, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("microcode: %w", err)
		}
		var files []string
		for _, de := range des { // in name order, as os.ReadDir sorts
			if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), v.suffix) {
				continue
			}
			files = append(files, filepath.Join(dir, de.Name()))
		}
		return files, nil
	}
	return nil, nil
}
