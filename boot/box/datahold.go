package box

import (
	"fmt"
	"path"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/vmm"
)

// The workloads whose files are on the data partition are held while a
// data partition exists but is not mounted (damaged, or its check
// failed): started, they would make empty disks, image caches and
// volumes on the root filesystem under its mount point, in RAM, while
// the real ones wait on the partition. Without any data partition (PXE,
// a direct kernel boot) the state directory lives in RAM by design, and
// nothing is held.

// dataHold says which workloads to hold: those with a file under mount,
// for reason. The zero value holds nothing.
type dataHold struct {
	mount  string // the data partition's mount point
	reason string // why it is not mounted
}

// holdFor is the hold the data partition d asks for.
func holdFor(d *api.DataPartition) dataHold {
	if d == nil || d.State != api.DataNotMounted || d.MountPoint == "" {
		return dataHold{}
	}
	what := "the data partition"
	if d.Device != "" {
		what += " " + d.Device
	}
	return dataHold{mount: path.Clean(d.MountPoint), reason: what + " is not mounted: " + d.Reason}
}

// check is why a workload with files at paths is held, empty when it may
// run.
func (h dataHold) check(paths []string) string {
	if h.mount == "" {
		return ""
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if under(path.Clean(p), h.mount) {
			return fmt.Sprintf("needs %s, and %s", p, h.reason)
		}
	}
	return ""
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}

// vmPaths are the files a VM uses: its own directory (seed, serial log,
// QMP socket) first, then its disks with their backing files, ISOs,
// kernel and initrd.
func vmPaths(s vmm.Spec) []string {
	ps := []string{s.Paths().Dir}
	for _, d := range s.Disks {
		ps = append(ps, d.Path, d.Backing)
	}
	ps = append(ps, s.CDROMs...)
	return append(ps, s.Kernel, s.Initrd)
}

// ctPaths are the files a container uses: the runtime's state directory
// (image cache, the container's writable layer and log), its image's
// layout or archive, and its volumes' sources.
func ctPaths(ct containers.Spec, stateDir string) []string {
	ps := []string{stateDir, ct.Image.Path}
	for _, v := range ct.Volumes {
		ps = append(ps, v.Source)
	}
	return ps
}

// dataHold is the hold the box's data partition asks for now.
func (b *Box) dataHold() dataHold {
	if b.o.Data == nil {
		return dataHold{}
	}
	return holdFor(b.o.Data())
}

// dataPartition is the data partition for the status, nil when PID 1
// did not say.
func (b *Box) dataPartition() *api.DataPartition {
	if b.o.Data == nil {
		return nil
	}
	return b.o.Data()
}

// volatileCredentials is where the API keeps its token and certificate
// while the state directory is on a data partition that is not mounted:
// in RAM, for this boot only, and never under the mount point.
const volatileCredentials = "/run/nucbox/api"

// credentialsDir is where the API keeps its token and certificate.
func (b *Box) credentialsDir(stateDir string) string {
	if b.dataHold().check([]string{stateDir}) == "" {
		return stateDir
	}
	return volatileCredentials
}
