package platform

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// stanza is one paragraph of a Debian control file, by field name.
type stanza map[string]string

// parseControl reads deb822 paragraphs (Packages, Release). Continuation
// lines are joined to their field with a newline.
func parseControl(r io.Reader) ([]stanza, error) {
	var out []stanza
	cur := stanza{}
	last := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = stanza{}
			}
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = k
			cur[k] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, sc.Err()
}

// Suite is one suite of an archive that the lock is resolved from.
type Suite struct {
	Archive, Name string
}

// DefaultSuites are bookworm with its point-release updates and its
// security updates: what apt on Debian 12 installs from.
var DefaultSuites = []Suite{
	{"debian", "bookworm"},
	{"debian", "bookworm-updates"},
	{"debian-security", "bookworm-security"},
}

// Components are the archive components the lock is resolved from:
// main, and non-free-firmware for the CPU microcode (Debian 12 moved
// firmware there, where the installer enables it by default).
var Components = []string{"main", "non-free-firmware"}

// indexed is a Packages entry with the archive it came from.
type indexed struct {
	stanza
	archive string
}

// index holds the newest version of every package across the suites.
type index struct {
	pkgs     map[string]indexed
	provides map[string][]string // virtual name -> real packages
	releases []string            // "bookworm 12.15 (Sat, 11 Jul 2026 ...)"
}

// get fetches url with a clear error for anything but 200.
func get(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	return resp, nil
}

func getAll(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	resp, err := get(ctx, client, url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	return b, nil
}

// loadIndex reads each suite's Release and the binary-amd64 Packages
// index of each of Components, checked against the sha256 the Release
// gives. A package in two components or suites counts at its newest
// version.
func loadIndex(ctx context.Context, client *http.Client, mirror string, suites []Suite) (*index, error) {
	idx := &index{pkgs: map[string]indexed{}, provides: map[string][]string{}}
	for _, s := range suites {
		base := strings.TrimRight(mirror, "/") + "/" + s.Archive + "/dists/" + s.Name + "/"
		rel, err := getAll(ctx, client, base+"Release")
		if err != nil {
			return nil, err
		}
		st, err := parseControl(bytes.NewReader(rel))
		if err != nil || len(st) == 0 {
			return nil, fmt.Errorf("%sRelease: not a Release file", base)
		}
		idx.releases = append(idx.releases, fmt.Sprintf("%s/%s %s (%s)", s.Archive, s.Name, st[0]["Version"], st[0]["Date"]))
		for _, comp := range Components {
			if err := idx.readPackages(ctx, client, base, comp+"/binary-amd64/Packages.xz", st[0]["SHA256"], s.Archive); err != nil {
				return nil, err
			}
		}
	}
	for name, p := range idx.pkgs {
		for _, v := range splitList(p.stanza["Provides"]) {
			idx.provides[v] = append(idx.provides[v], name)
		}
	}
	return idx, nil
}

// readPackages adds one Packages.xz to the index after checking it
// against the sha256 list of its Release.
func (idx *index) readPackages(ctx context.Context, client *http.Client, base, file, sums, archive string) error {
	want := ""
	for _, l := range strings.Split(sums, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[2] == file {
			want = f[0]
		}
	}
	if want == "" {
		return fmt.Errorf("%sRelease lists no %s", base, file)
	}
	data, err := getAll(ctx, client, base+file)
	if err != nil {
		return err
	}
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
		return fmt.Errorf("%s%s: sha256 %x, but Release says %s", base, file, got, want)
	}
	xr, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s%s: %w", base, file, err)
	}
	stanzas, err := parseControl(xr)
	if err != nil {
		return fmt.Errorf("%s%s: %w", base, file, err)
	}
	for _, p := range stanzas {
		name := p["Package"]
		if old, ok := idx.pkgs[name]; ok && compareVersions(old.stanza["Version"], p["Version"]) >= 0 {
			continue
		}
		idx.pkgs[name] = indexed{p, archive}
	}
	return nil
}

// splitList reads a relation field ("a (>= 1), b | c:any") into the names
// of its first alternatives.
func splitList(field string) []string {
	var out []string
	for _, rel := range strings.Split(field, ",") {
		alt, _, _ := strings.Cut(rel, "|")
		name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
		name, _, _ = strings.Cut(name, "(")
		name, _, _ = strings.Cut(name, ":")
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// resolve finds a real package for name, through Provides when no
// package has that name.
func (idx *index) resolve(name string) (indexed, bool) {
	if p, ok := idx.pkgs[name]; ok {
		return p, true
	}
	if real := idx.provides[name]; len(real) > 0 {
		p, ok := idx.pkgs[real[0]]
		return p, ok
	}
	return indexed{}, false
}

func (idx *index) pin(p indexed) (Package, error) {
	size, err := strconv.ParseInt(p.stanza["Size"], 10, 64)
	if err != nil {
		return Package{}, fmt.Errorf("package %s: bad Size %q", p.stanza["Package"], p.stanza["Size"])
	}
	out := Package{
		Name: p.stanza["Package"], Version: p.stanza["Version"], Arch: p.stanza["Architecture"],
		Archive: p.archive, Pool: p.stanza["Filename"], Size: size, SHA256: p.stanza["SHA256"],
	}
	if !hexRE.MatchString(out.SHA256) || out.Pool == "" {
		return Package{}, fmt.Errorf("package %s: no Filename or SHA256 in the index", out.Name)
	}
	return out, nil
}
