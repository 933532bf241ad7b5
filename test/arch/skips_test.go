package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSkipsGoThroughCI: only package test/ci skips a test or reads $CI,
// so that one rule decides whether a run may skip (see its doc.go). A
// test elsewhere calls ci.Missing for a missing prerequisite, ci.HostLacks
// for what the host kernel cannot do, or ci.ShortMode.
func TestSkipsGoThroughCI(t *testing.T) {
	root := repoRoot(t)
	ciDir := filepath.Join(root, "test", "ci")
	inCI := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "build" || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			what := ""
			switch name := sel.Sel.Name; name {
			case "Skip", "Skipf", "SkipNow":
				what = "a skip (" + name + ")"
			case "Short":
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testing" {
					what = "testing.Short"
				}
			case "Getenv", "LookupEnv":
				if len(call.Args) == 1 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if v, _ := strconv.Unquote(lit.Value); v == "CI" {
							what = "a read of $CI"
						}
					}
				}
			}
			if what == "" {
				return true
			}
			if filepath.Dir(path) == ciDir {
				inCI++
				return true
			}
			t.Errorf("%s:%d: %s outside test/ci: use ci.Missing, ci.HostLacks or ci.ShortMode", rel, fset.Position(call.Pos()).Line, what)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inCI == 0 {
		t.Fatal("found no skip in test/ci itself: the check reads the wrong files")
	}
}
