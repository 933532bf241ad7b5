package api

import (
	"crypto/x509"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenMatches(t *testing.T) {
	for _, tt := range []struct {
		got, want string
		ok        bool
	}{
		{testToken, testToken, true},
		{testToken + "x", testToken, false},
		{testToken[:len(testToken)-1], testToken, false},
		{"", testToken, false},
		{"", "", false}, // no token configured: nothing matches
		{strings.ToUpper(testToken), testToken, false},
	} {
		if got := tokenMatches(tt.got, tt.want); got != tt.ok {
			t.Errorf("tokenMatches(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.ok)
		}
	}
}

// TestTokenCompareIsConstantTime checks the source: tokenMatches must use
// crypto/subtle, and no code of the package may compare the token or the
// session value with == or !=, which would return at the first differing
// byte.
func TestTokenCompareIsConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	usesSubtle := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncDecl:
				if x.Name.Name == "tokenMatches" {
					ast.Inspect(x, func(n ast.Node) bool {
						if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
							if id, ok := sel.X.(*ast.Ident); ok && id.Name == "subtle" {
								usesSubtle = true
							}
						}
						return true
					})
				}
			case *ast.BinaryExpr:
				if x.Op != token.EQL && x.Op != token.NEQ {
					return true
				}
				for _, side := range []ast.Expr{x.X, x.Y} {
					if secretExpr(side) {
						if lit, ok := otherSide(x, side).(*ast.BasicLit); ok && lit.Value == `""` {
							continue // checking for "no token" is fine
						}
						t.Errorf("%s: token compared with %s; use tokenMatches", fset.Position(x.Pos()), x.Op)
					}
				}
			}
			return true
		})
	}
	if !usesSubtle {
		t.Error("tokenMatches does not call subtle.ConstantTimeCompare")
	}
}

func secretExpr(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return strings.Contains(strings.ToLower(x.Name), "token")
	case *ast.SelectorExpr:
		return strings.Contains(strings.ToLower(x.Sel.Name), "token")
	}
	return false
}

func otherSide(b *ast.BinaryExpr, side ast.Expr) ast.Expr {
	if side == b.X {
		return b.Y
	}
	return b.X
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tok, created, err := LoadOrCreateToken(dir)
	if err != nil || !created || len(tok) < 32 {
		t.Fatalf("first: %q %v %v", tok, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want 0600", fi.Mode(), err)
	}
	again, created, err := LoadOrCreateToken(dir)
	if err != nil || created || again != tok {
		t.Errorf("second: %q %v %v, want the same token, not created", again, created, err)
	}
	// No temporary files are left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("state dir holds %d files, want 1", len(ents))
	}
	// A damaged file is replaced.
	os.WriteFile(filepath.Join(dir, TokenFile), []byte("short\n"), 0o600)
	if tok3, created, _ := LoadOrCreateToken(dir); !created || tok3 == tok {
		t.Errorf("short token file was kept")
	}
}

func TestLoadOrCreateCert(t *testing.T) {
	dir := t.TempDir()
	c1, created, err := LoadOrCreateCert(dir, "lab1")
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.Subject.CommonName != "lab1" {
		t.Errorf("certificate: %v %q", leaf.PublicKeyAlgorithm, leaf.Subject.CommonName)
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode())
	}
	c2, created, err := LoadOrCreateCert(dir, "lab1")
	if err != nil || created {
		t.Fatalf("second: %v %v", created, err)
	}
	f1, f2 := Fingerprint(c1.Certificate[0]), Fingerprint(c2.Certificate[0])
	if f1 != f2 || len(f1) != 95 {
		t.Errorf("fingerprints %s / %s", f1, f2)
	}
}
