package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGoroutinesGoThroughSafe: no package of the binary starts a
// goroutine with a bare go statement; internal/safe starts them all, so
// that a panic in any of them is recovered (and a long-lived component
// restarted) instead of ending PID 1, which panics the kernel.
func TestGoroutinesGoThroughSafe(t *testing.T) {
	pkgs := listPackages(t)
	bin, ok := pkgs[module+"/cmd/nucbox"]
	if !ok {
		t.Fatal("no cmd/nucbox package")
	}
	product := append([]string{bin.ImportPath}, bin.Deps...)
	checked := 0
	for _, path := range product {
		if !strings.HasPrefix(path, module+"/") || path == module+"/internal/safe" {
			continue
		}
		p := pkgs[path]
		for _, name := range slices.Concat(p.GoFiles, p.CgoFiles) {
			file := filepath.Join(p.Dir, name)
			bare, err := bareGoStatements(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, line := range bare {
				t.Errorf("%s:%d: a bare go statement; start the goroutine with safe.Go, or safe.Loop for a long-lived component",
					strings.TrimPrefix(path, module+"/")+"/"+name, line)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d files of the binary: the package list is wrong", checked)
	}
}

// The positive control: the same check finds a bare go statement, also
// one inside a closure.
func TestBareGoStatementIsFound(t *testing.T) {
	src := "package p\n\nfunc f() {\n\tgo g()\n\th(func() {\n\t\tgo func() {}()\n\t})\n}\n"
	got, err := bareGoStatements("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{4, 6}) {
		t.Errorf("bare go statements on lines %v, want [4 6]", got)
	}
}

// bareGoStatements are the lines of file's go statements; src, when not
// nil, is the file's text (as for parser.ParseFile).
func bareGoStatements(file string, src any) ([]int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var lines []int
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			lines = append(lines, fset.Position(g.Pos()).Line)
		}
		return true
	})
	return lines, nil
}
