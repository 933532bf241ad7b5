package netcfg

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// resolvConf renders resolv.conf: servers in order without repeats (the
// C resolver uses the first three), and the lease's domain as search list.
// The domain comes from a DHCP server, which anyone on the link can be:
// only names that pass searchList are written, so no newline or other
// directive can ride along.
func resolvConf(servers []netip.Addr, domain string) []byte {
	var b bytes.Buffer
	b.WriteString("# written by nucbox; changes are overwritten\n")
	if names, _ := searchList(splitDomains(domain)); len(names) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(names, " "))
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

// Search list bounds: glibc before 2.26 read at most 6 domains and 256
// characters, and a longer list only slows every lookup.
const (
	maxSearchDomains = 6
	maxSearchChars   = 256
)

// searchList keeps the names that are valid DNS domain names (RFC 1123
// labels), lower-cased, without a trailing dot or repeats, within the
// bounds above, and returns what it dropped.
func searchList(names []string) (kept, dropped []string) {
	n := 0
	for _, name := range names {
		d := strings.ToLower(strings.TrimSuffix(name, "."))
		switch {
		case !validDomain(d), len(kept) == maxSearchDomains, n+len(d)+1 > maxSearchChars:
			dropped = append(dropped, name)
		case !slices.Contains(kept, d):
			kept = append(kept, d)
			n += len(d) + 1
		}
	}
	return kept, dropped
}

// validDomain reports whether s is a DNS name of RFC 1123 labels: 1 to 63
// letters, digits and hyphens, not starting or ending with a hyphen, at
// most 253 characters in all.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// splitDomains splits a space-separated list of domains. A value with any
// character that no domain list holds (a newline, a control character) is
// no list at all: nil.
func splitDomains(s string) []string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ' ') {
			return nil
		}
	}
	return strings.Fields(s)
}

// leaseNames returns the search list and host name a DHCP answer carries,
// validated: the domain search option (119) if present, else the domain
// name option (15), which some servers fill with several names; and the
// host name option (12), kept only when it is a valid host name. dropped
// lists what was refused, for the log.
func leaseNames(search []string, domain, host string) (searchDomains, hostname string, dropped []string) {
	names := search
	if len(names) == 0 {
		names = splitDomains(domain)
		if names == nil && strings.TrimSpace(domain) != "" {
			dropped = append(dropped, domain)
		}
	}
	kept, bad := searchList(names)
	dropped = append(dropped, bad...)
	h := strings.TrimSuffix(host, ".")
	if h != "" && !validDomain(h) {
		dropped = append(dropped, host)
		h = ""
	}
	return strings.Join(kept, " "), h, dropped
}
