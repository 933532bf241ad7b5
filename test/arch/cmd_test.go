package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// TestCommandIsThin: the binary reaches PID 1 only through boot.Main; the
// CLI talks to a running box through the API client, never through boot's
// insides.
func TestCommandIsThin(t *testing.T) {
	pkgs := listPackages(t)
	cmd, ok := pkgs[module+"/cmd/nucbox"]
	if !ok {
		t.Fatal("no cmd/nucbox package")
	}
	uses := map[string]int{}
	fset := token.NewFileSet()
	for _, name := range cmd.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(cmd.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		local := ""
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path != module+"/boot" {
				continue
			}
			local = "boot"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == local {
					uses[sel.Sel.Name]++
				}
			}
			return true
		})
	}
	if uses["Main"] == 0 {
		t.Fatal("cmd/nucbox does not call boot.Main: the check reads the wrong files")
	}
	for name, n := range uses {
		if name != "Main" {
			t.Errorf("cmd/nucbox uses boot.%s %d time(s); it may use only boot.Main", name, n)
		}
	}
}
