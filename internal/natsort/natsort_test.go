package natsort

import (
	"slices"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"eth0", "eth0", 0},
		{"", "a", -1},
		{"eth2", "eth10", -1},
		{"eth10", "eth2", 1},
		{"eno1", "eth0", -1},
		{"enp0s31f6", "enp0s3", 1},
		{"0000:00:19.0", "0000:00:03.0", 1},
		// Partitions of one disk.
		{"sdb2", "sdb10", -1},
		{"nvme0n1p10", "nvme0n1p9", 1},
		{"sdb", "sdb1", -1},
		{"mmcblk0p2", "mmcblk0p12", -1},
		// Kernels as Debian names them.
		{"vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64", -1},
		{"vmlinuz-6.1.0-10-amd64", "vmlinuz-6.1.0-9-amd64", 1},
		{"vmlinuz-6.1.0-26-amd64", "vmlinuz-6.12.0-1-amd64", -1},
		{"vmlinuz-6.1.0-26-amd64", "vmlinuz-6.1.0-26-amd64", 0},
		{"vmlinuz-5.10.0-30-amd64", "vmlinuz-6.1.0-1-amd64", -1},
		// Numbers longer than any integer type still compare by value.
		{"v99999999999999999999", "v100000000000000000000", -1},
		// Equal values with different leading zeros: byte order decides.
		{"eth01", "eth1", -1},
		{"eth1", "eth01", 1},
		{"a007b", "a7a", 1},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Less(tt.a, tt.b); got != (tt.want < 0) {
			t.Errorf("Less(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want < 0)
		}
	}
}

func TestSortIsIndependentOfInputOrder(t *testing.T) {
	want := []string{"eth0", "eth01", "eth1", "eth2", "eth10", "eth10a", "wlan0"}
	in := slices.Clone(want)
	for range len(in) {
		in = append(in[1:], in[0])
		got := slices.Clone(in)
		slices.SortFunc(got, Compare)
		if !slices.Equal(got, want) {
			t.Fatalf("sorted %v to %v, want %v", in, got, want)
		}
	}
}
