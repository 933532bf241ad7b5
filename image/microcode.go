package image

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/nucbox/nucbox/image/microcode"
)

// MicrocodeNone as Options.Microcode leaves the UKI without .ucode, also
// in a signed build from the pinned platform; MicrocodePlatform puts the
// platform's in, also unsigned.
const (
	MicrocodeNone     = "none"
	MicrocodePlatform = "platform"
)

// loadMicrocode returns the UKI's .ucode section and what the progress
// line says about it: the file Options.Microcode names, or in a signed
// build from the platform (Root) the archive made from its
// intel-microcode and amd64-microcode, or nothing. Unsigned builds leave
// it out unless asked (MicrocodePlatform): it is 20 MiB, and Debian 12's
// stub does not load it; the machines a signed image is for are the ones
// that get a newer stub through it.
func (o Options) loadMicrocode() ([]byte, string, error) {
	media := o.UKI || o.DiskSize > 0
	switch {
	case o.Microcode == MicrocodeNone:
		if o.Root != "" && media {
			return nil, ", no microcode (--microcode none)", nil
		}
		return nil, "", nil
	case o.Microcode == MicrocodePlatform:
		if o.Root == "" {
			return nil, "", fmt.Errorf("microcode %s: the build uses a custom kernel, not the pinned platform: give a microcode cpio file", MicrocodePlatform)
		}
		if !media {
			return nil, "", fmt.Errorf("microcode goes into the UKI: build it (--uki or --disk)")
		}
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
	case o.SignKey == "":
		return nil, ", no microcode (unsigned; --microcode platform adds the platform's)", nil
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
