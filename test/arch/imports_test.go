package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/nucbox/nucbox"

// pkg is the part of `go list -json` the rules read.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
	DepsErrors []struct{ Err string }
}

// listPackages runs go list over the whole module with the product's build
// tags, so the graph is the one that ships.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-e", "-deps=false", "-tags", "netgo,osusergo,seccomp", "-json", "./...")
	cmd.Dir = repoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the module has more than that", len(pkgs))
	}
	return pkgs
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// under reports whether path is the package rel of the module or one of
// its subpackages.
func under(path, rel string) bool {
	p := module + "/" + rel
	return path == p || strings.HasPrefix(path, p+"/")
}

// importRules are the edges that must not exist, even indirectly: the
// domain packages get their own spec types and never reach back to the
// config or to PID 1, and the image builder does not need PID 1 to know
// which kernel modules a box loads.
var importRules = []struct {
	from      []string
	forbidden []string
	why       string
}{
	{
		from:      []string{"netcfg", "vswitch", "vmm", "containers"},
		forbidden: []string{"config", "boot"},
		why:       "domain packages take their own spec types; data flows config -> plan -> domain, never back up",
	},
	{
		from:      []string{"image"},
		forbidden: []string{"boot", "config"},
		why:       "the image builder gets the config as plain values (image.Baked) and the module database from internal/kmod",
	},
	{
		from:      []string{"config"},
		forbidden: []string{"boot", "netcfg", "vswitch", "vmm", "containers", "image"},
		why:       "config is pure: schema, loading, defaults and validation (compiling to specs is config/plan's)",
	},
	{
		from:      []string{"internal"},
		forbidden: []string{"boot", "config", "netcfg", "vswitch", "vmm", "containers", "image", "cmd"},
		why:       "internal helpers are leaves",
	},
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	for path, p := range pkgs {
		if p.Error != nil {
			t.Errorf("%s: %s", path, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			// go list reports import cycles here.
			t.Errorf("%s: %s", path, e.Err)
		}
	}
	checked := 0
	for _, r := range importRules {
		for path, p := range pkgs {
			if !slices.ContainsFunc(r.from, func(f string) bool { return under(path, f) }) {
				continue
			}
			// config/plan is the compiler: it may import the domain packages.
			if r.from[0] == "config" && under(path, "config/plan") {
				continue
			}
			checked++
			for _, dep := range p.Deps {
				for _, f := range r.forbidden {
					if under(dep, f) {
						t.Errorf("%s depends on %s (%s)", strings.TrimPrefix(path, module+"/"),
							strings.TrimPrefix(dep, module+"/"), r.why)
					}
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("the rules matched only %d packages: the package list or the rules are wrong", checked)
	}
}

// TestRuleCatchesViolation is the positive control: the same check on a
// graph that does break a rule must find it, so that a broken go list or a
// rule that matches nothing cannot pass TestImportRules.
func TestRuleCatchesViolation(t *testing.T) {
	pkgs := listPackages(t)
	boot, ok := pkgs[module+"/boot"]
	if !ok {
		t.Fatal("go list did not list the boot package")
	}
	if !slices.ContainsFunc(boot.Deps, func(d string) bool { return under(d, "config") }) {
		t.Fatal("boot does not depend on config: the dependency lists are empty or wrong")
	}
}
