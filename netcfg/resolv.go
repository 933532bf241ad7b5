package netcfg

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
)

// resolvConf renders resolv.conf: servers in order without repeats (the
// C resolver uses the first three), and the lease's domain as search list.
func resolvConf(servers []netip.Addr, domain string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by nucbox; changes are overwritten\n")
	if domain != "" {
		fmt.Fprintf(&b, "search %s\n", domain)
	}
	var seen []netip.Addr
	for _, s := range servers {
		if s.IsValid() && !slices.Contains(seen, s) {
			seen = append(seen, s)
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
	}
	return b.Bytes()
}

// writeFileIfChanged replaces path atomically (rename), and only when the
// content differs, so readers never see half a file and an unchanged
// apply writes nothing.
func writeFileIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}
