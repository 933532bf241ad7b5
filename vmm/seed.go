package vmm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/goccy/go-yaml"
)

// SeedLabel is the volume label cloud-init's NoCloud datasource looks for.
// Lower case, as genisoimage -V cidata writes it: older cloud-init
// releases compare it case-sensitively.
const SeedLabel = "cidata"

// SeedFile is one file of a NoCloud seed.
type SeedFile struct {
	Name string
	Data []byte
}

// SeedFiles returns the NoCloud files for s: meta-data, user-data and,
// when a NIC has an address setting, network-config. It is pure; WriteSeed
// puts the files on an ISO.
//
// The instance-id is fixed per box and VM rather than per config change:
// cloud-init re-runs its once-per-instance modules (new SSH host keys,
// users, first-boot scripts) whenever the id changes, which a guest that
// merely got more memory must not go through.
func SeedFiles(s Spec) ([]SeedFile, error) {
	ci := s.CloudInit
	if ci == nil {
		return nil, nil
	}
	meta, err := metaData(s)
	if err != nil {
		return nil, err
	}
	user := ci.UserData
	if user == "" {
		user = "#cloud-config\n"
	}
	files := []SeedFile{{"meta-data", meta}, {"user-data", []byte(user)}}
	netcfg, err := networkConfig(s)
	if err != nil {
		return nil, err
	}
	if netcfg != nil {
		files = append(files, SeedFile{"network-config", netcfg})
	}
	return files, nil
}

func instanceID(s Spec) string { return InstanceID(s.Box, s.Name) }

// InstanceID is the cloud-init instance-id of VM vm on box box, as its
// seed carries it and `nucbox plan` shows it.
func InstanceID(box, vm string) string {
	if box == "" {
		return "nucbox-" + vm
	}
	return "nucbox-" + box + "-" + vm
}

// metaData writes the generated keys the user's meta-data does not set,
// then the user's meta-data verbatim, so user keys win and user formatting
// and comments survive.
func metaData(s Spec) ([]byte, error) {
	user := s.CloudInit.MetaData
	var keys map[string]any
	if strings.TrimSpace(user) != "" {
		if err := yaml.Unmarshal([]byte(user), &keys); err != nil {
			return nil, fmt.Errorf("cloud-init meta-data is not a YAML mapping: %w", err)
		}
	}
	var b strings.Builder
	for _, kv := range [][2]string{{"instance-id", instanceID(s)}, {"local-hostname", s.Name}} {
		if _, set := keys[kv[0]]; !set {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
		}
	}
	if user != "" {
		b.WriteString(user)
		if !strings.HasSuffix(user, "\n") {
			b.WriteByte('\n')
		}
	}
	return []byte(b.String()), nil
}

// networkConfig renders a network-config version 2 document. Each NIC is
// matched by its MAC, the one name that does not depend on the guest's
// device enumeration. NICs without an address setting are left to the
// guest; with none at all the file is omitted and cloud-init falls back
// to DHCP on the first NIC.
func networkConfig(s Spec) ([]byte, error) {
	var b strings.Builder
	n := 0
	for i, nic := range s.NICs {
		v6 := nic.IPv6
		if nic.IPv4.IsZero() && !v6.IsValid() {
			continue
		}
		if n == 0 {
			b.WriteString("version: 2\nethernets:\n")
		}
		n++
		fmt.Fprintf(&b, "  nic%d:\n    match:\n      macaddress: %q\n", i, nic.MAC.String())
		if v6.IsValid() && (!v6.Addr().Is6() || v6.Addr().Is4In6()) {
			return nil, fmt.Errorf("nic %d: address %q is not an IPv6 address with prefix length", i, v6)
		}
		if nic.IPv4.IsZero() || nic.IPv4.DHCP {
			fmt.Fprintf(&b, "    dhcp4: %v\n", nic.IPv4.DHCP)
			if v6.IsValid() {
				fmt.Fprintf(&b, "    addresses:\n      - %s\n", v6)
			}
			continue
		}
		if err := checkIPv4(nic.IPv4); err != nil {
			return nil, fmt.Errorf("nic %d: %w", i, err)
		}
		b.WriteString("    dhcp4: false\n")
		fmt.Fprintf(&b, "    addresses:\n      - %s\n", nic.IPv4.Address)
		if v6.IsValid() {
			fmt.Fprintf(&b, "      - %s\n", v6)
		}
		if gw := nic.IPv4.Gateway; gw.IsValid() {
			// 0.0.0.0/0 rather than "default": older cloud-init renderers
			// only know the prefix form.
			fmt.Fprintf(&b, "    routes:\n      - to: 0.0.0.0/0\n        via: %s\n", gw)
		}
		if len(s.DNS) > 0 {
			b.WriteString("    nameservers:\n      addresses:\n")
			for _, d := range s.DNS {
				if !d.IsValid() {
					return nil, fmt.Errorf("DNS server %q is not an IP address", d)
				}
				fmt.Fprintf(&b, "        - %s\n", d)
			}
		}
	}
	if n == 0 {
		return nil, nil
	}
	return []byte(b.String()), nil
}

// checkIPv4 reports a static address cloud-init could not use.
func checkIPv4(a IPv4) error {
	if a.DHCP || a.IsZero() {
		return nil
	}
	p := a.Address
	if !p.IsValid() || !p.Addr().Is4() {
		return fmt.Errorf("address %q is not an IPv4 address with prefix length", p)
	}
	if !a.Gateway.IsValid() {
		return nil
	}
	if !a.Gateway.Is4() {
		return fmt.Errorf("gateway %q is not an IPv4 address", a.Gateway)
	}
	if !p.Masked().Contains(a.Gateway) {
		return fmt.Errorf("gateway %s is outside %s", a.Gateway, p.Masked())
	}
	return nil
}

// WriteSeed writes files as an ISO 9660 image labelled cidata, with Rock
// Ridge (the long lower-case names Linux reads) and Joliet (for
// cloudbase-init on Windows guests). The image is built next to path and
// renamed over it, so a guest never sees half a seed.
func WriteSeed(path string, files []SeedFile) (err error) {
	dir := filepath.Dir(path)
	work, err := os.MkdirTemp(dir, ".seed-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, "seed.iso")
	size := int64(1 << 20)
	for _, f := range files {
		size += int64(len(f.Data)) + 2048
	}
	backend, err := file.CreateFromPath(tmp, size)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := backend.Close(); err == nil {
			err = cerr
		}
	}()
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	iso, err := iso9660.Create(backend, size, 0, 2048, tree)
	if err != nil {
		return fmt.Errorf("seed ISO: %w", err)
	}
	for _, f := range files {
		if strings.ContainsRune(f.Name, '/') {
			return fmt.Errorf("seed file %q: nested paths are not supported", f.Name)
		}
		w, err := iso.OpenFile(f.Name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("seed ISO: %s: %w", f.Name, err)
		}
		_, werr := w.Write(f.Data)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("seed ISO: %s: %w", f.Name, werr)
		}
	}
	// ISO 9660 pads identifiers with spaces; go-diskfs would leave NULs,
	// which some label readers keep as part of the name.
	label := fmt.Sprintf("%-32s", SeedLabel)
	if err := iso.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: label}); err != nil {
		return fmt.Errorf("seed ISO: %w", err)
	}
	return os.Rename(tmp, path)
}

// ReadSeed returns the files at the root of a seed ISO and its volume
// label. It reads back what WriteSeed wrote, for tests and for the status
// API's "what did this guest get" view.
func ReadSeed(path string) (label string, files map[string][]byte, err error) {
	backend, err := file.OpenFromPath(path, true)
	if err != nil {
		return "", nil, err
	}
	defer backend.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return "", nil, err
	}
	iso, err := iso9660.Read(backend, fi.Size(), 0, 2048)
	if err != nil {
		return "", nil, err
	}
	entries, err := iso.ReadDir(".")
	if err != nil {
		return "", nil, err
	}
	files = map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := iso.ReadFile(e.Name())
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		files[e.Name()] = data
	}
	if len(files) == 0 {
		return "", nil, errors.New("seed ISO has no files")
	}
	return strings.TrimRight(iso.Label(), " \x00"), files, nil
}
