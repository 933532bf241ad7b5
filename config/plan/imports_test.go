package plan

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

// The domain packages take the specs Compile makes and never read the
// config themselves: data flows down, from config through this package.
func TestDomainPackagesDoNotImportConfig(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		ci.Missing(t, "no go tool in PATH")
	}
	const mod = "github.com/nucbox/nucbox/"
	for _, pkg := range []string{"netcfg", "vswitch", "vmm", "containers"} {
		out, err := exec.Command(goTool, "list", "-tags", "netgo,osusergo,seccomp", "-deps", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+"config" || strings.HasPrefix(dep, mod+"config/") {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
}
