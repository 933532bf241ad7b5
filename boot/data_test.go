package boot

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/datapart"
)

// dataState turns what datapart.Setup returned into the status's data
// partition: none, mounted with what the boot did, or not mounted with
// why, which is what makes the box hold workloads.
func TestDataState(t *testing.T) {
	damaged := &datapart.DamagedError{Device: "/dev/sda2", Reason: "no usable superblock: none found"}
	for _, tc := range []struct {
		name string
		res  *datapart.Result
		err  error
		want api.DataPartition
	}{
		{"none", nil, fmt.Errorf("datapart: %w (no disk)", datapart.ErrNoDisk),
			api.DataPartition{State: api.DataNone, MountPoint: DataDir}},
		{"damaged", &datapart.Result{Device: "/dev/sda2", Size: 1 << 30, Check: "damaged"}, damaged,
			api.DataPartition{State: api.DataNotMounted, Device: "/dev/sda2", MountPoint: DataDir, Size: 1 << 30,
				Reason: "no usable superblock: none found: not mounted, not formatted"}},
		{"check failed", &datapart.Result{Device: "/dev/sda2", Size: 1 << 30}, errors.New("datapart: e2fsck: exit 4"),
			api.DataPartition{State: api.DataNotMounted, Device: "/dev/sda2", MountPoint: DataDir, Size: 1 << 30,
				Reason: "e2fsck: exit 4: not mounted, not formatted"}},
		{"repaired", &datapart.Result{Device: "/dev/sda2", Size: 1 << 30, Check: "clean", Recovered: 32768}, nil,
			api.DataPartition{State: api.DataMounted, Device: "/dev/sda2", MountPoint: DataDir, Size: 1 << 30, FS: "ext4",
				Note: "primary superblock damaged, repaired from backup at block 32768", RepairedFrom: 32768}},
	} {
		if got := dataState(tc.res, tc.err); *got != tc.want {
			t.Errorf("%s: dataState = %+v\nwant %+v", tc.name, *got, tc.want)
		}
	}
}
