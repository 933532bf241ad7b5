package image

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/nucbox/nucbox/image/microcode"
)

// MicrocodeNone as Options.Microcode leaves the UKI without .ucode, also
// in a build from the pinned platform.
const MicrocodeNone = "none"

// loadMicrocode returns the UKI's .ucode section and what the progress
// line says about it: the file Options.Microcode names, or in a build
// from the platform (Root) the archive made from its intel-microcode and
// amd64-microcode, or nothing.
func (o Options) loadMicrocode() ([]byte, string, error) {
	media := o.UKI || o.DiskSize > 0
	switch {
	case o.Microcode == MicrocodeNone:
		if o.Root != "" && media {
			return nil, ", no microcode (--microcode none)", nil
		}
		return nil, "", nil
	case o.Microcode != "":
		if !media {
			return nil, "", fmt.Errorf("microcode %s goes into the UKI: build it (--uki or --disk)", o.Microcode)
		}
		b, err := os.ReadFile(o.Microcode)
		if err != nil {
			return nil, "", fmt.Errorf("microcode: %w", err)
		}
		if !bytes.HasPrefix(b, []byte("070701")) {
			return nil, "", fmt.Errorf("microcode %s: not an uncompressed cpio (newc) archive", o.Microcode)
		}
		return b, fmt.Sprintf(", microcode %s from %s", size(int64(len(b))), o.Microcode), nil
	case o.Root == "" || !media:
		return nil, "", nil
	}
	mtime, err := sourceDateEpoch()
	if err != nil {
		return nil, "", err
	}
	b, parts, err := microcode.Archive(o.Root, mtime)
	if err != nil {
		return nil, "", fmt.Errorf("%w (the pinned platform's intel-microcode and amd64-microcode; --microcode none builds without)", err)
	}
	var what []string
	for _, p := range parts {
		what = append(what, fmt.Sprintf("%s %s of %d files", strings.TrimPrefix(p.Member, microcode.Dir+"/"), size(p.Bytes), p.Files))
	}
	return b, fmt.Sprintf(", microcode %s from the platform (%s)", size(int64(len(b))), strings.Join(what, ", ")), nil
}
