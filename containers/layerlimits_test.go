package containers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawLayer is an image layer as a registry would serve it: compressed
// bytes and the DiffID the image's config claims for them, true or not.
type rawLayer struct {
	compressed []byte
	diffID     v1.Hash
}

func (l rawLayer) Digest() (v1.Hash, error) {
	s := sha256.Sum256(l.compressed)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}, nil
}
func (l rawLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l rawLayer) Uncompressed() (io.ReadCloser, error) {
	return nil, errors.New("the store must not fetch a layer twice")
}
func (l rawLayer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l rawLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return out.Bytes()
}

// honest is a gzipped layer with its true DiffID.
func honest(t testing.TB, tarBytes []byte) rawLayer {
	return rawLayer{compressed: gz(t, tarBytes), diffID: sha(tarBytes)}
}

func tarBytes(t *testing.T, ents ...tarEntry) []byte {
	t.Helper()
	b, _ := io.ReadAll(layer(t, ents...))
	return b
}

// sparseTar is a layer holding one PAX 1.0 sparse file of size bytes
// whose last byte is 'x' and the rest a hole: a few hundred bytes of
// tar that unpack to size bytes on disk. archive/tar reads such files
// but does not write them, so the headers are made here.
func sparseTar(t testing.TB, name string, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	records := ""
	for _, kv := range [][2]string{
		{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(size)},
	} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec)
		for len(fmt.Sprint(n+len(fmt.Sprint(n)))) != len(fmt.Sprint(n)) {
			n++
		}
		n += len(fmt.Sprint(n))
		records += fmt.Sprint(n) + rec
	}
	// An extended header is written as a regular file, then retyped.
	start := b.Len()
	if err := tw.WriteHeader(&tar.Header{Name: "PaxHeaders/" + name, Typeflag: tar.TypeReg, Mode: 0o644,
		Size: int64(len(records)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	hdr := b.Bytes()[start : start+512]
	hdr[156] = tar.TypeXHeader
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	io.WriteString(tw, records)

	sparseMap := fmt.Sprintf("1\n%d\n1\n", size-1)
	data := sparseMap + strings.Repeat("\x00", 512-len(sparseMap)) + "x"
	if err := tw.WriteHeader(&tar.Header{Name: "GNUSparseFile.0/" + name, Typeflag: tar.TypeReg, Mode: 0o644,
		Size: int64(len(data)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, data)
	tw.Close()
	return b.Bytes()
}

// cacheState records every file under dir: path, type, size, content.
func cacheState(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "%s %v %d", strings.TrimPrefix(p, dir), fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			fmt.Fprintf(&sb, " %x", sha256.Sum256(b))
		}
		sb.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestMalformedLayersRefused pulls malformed layers into a store that
// already holds a good one: each is refused with an error that says what
// is wrong, nothing of it reaches the cache, and nothing there changes.
func TestMalformedLayersRefused(t *testing.T) {
	dir := t.TempDir()
	st, err := NewStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.SetLayerLimits(LayerLimits{MaxBytes: 8 << 20, MaxEntries: 100, FreeReserve: -1})
	good := tarBytes(t, tarEntry{name: "etc/", typ: tar.TypeDir}, tarEntry{name: "etc/os-release", body: "ID=good\n"})
	goodDir, err := st.unpackLayer(honest(t, good), func(Progress) {})
	if err != nil {
		t.Fatal(err)
	}
	// The positive control: a sparse file under the cap unpacks, hole
	// and all, so the sparse case below is refused for its size alone.
	small := honest(t, sparseTar(t, "small", 1<<20))
	smallDir, err := st.unpackLayer(small, func(Progress) {})
	if err != nil {
		t.Fatalf("a 1 MiB sparse file under an 8 MiB cap: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(smallDir, "small")); err != nil || len(b) != 1<<20 || b[len(b)-1] != 'x' {
		t.Fatalf("sparse file unpacked as %d bytes, %v", len(b), err)
	}

	shared := tarBytes(t, tarEntry{name: "etc/os-release", body: "ID=shared\n"})
	zeros := make([]byte, 64<<20)
	var bomb bytes.Buffer
	tw := tar.NewWriter(&bomb)
	tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(zeros))})
	tw.Write(zeros)
	tw.Close()
	var many []tarEntry
	for i := range 101 {
		many = append(many, tarEntry{name: fmt.Sprintf("f%03d", i)})
	}

	for _, tc := range []struct {
		name  string
		layer rawLayer
		want  error  // errors.Is target
		say   string // the error must say this
	}{
		// Claims the DiffID of a layer other images have and the cache
		// does not yet: the poison must not be stored under that name.
		{"wrong DiffID", rawLayer{compressed: gz(t, tarBytes(t, tarEntry{name: "etc/os-release", body: "ID=evil\n"})), diffID: sha(shared)},
			ErrDiffID, "the image says " + sha(shared).String()},
		{"whiteout .wh..", honest(t, tarBytes(t, tarEntry{name: "etc/.wh.."})), errBadWhiteout, `"etc/.wh.."`},
		{"whiteout .wh...", honest(t, tarBytes(t, tarEntry{name: "etc/.wh..."})), errBadWhiteout, `"etc/.wh..."`},
		{"whiteout .wh.", honest(t, tarBytes(t, tarEntry{name: ".wh."})), errBadWhiteout, `".wh."`},
		{"sparse file of 10 GiB", honest(t, sparseTar(t, "big", 10<<30)), ErrLayerLimit, "10737418240 bytes"},
		{"gzip bomb", honest(t, bomb.Bytes()), ErrLayerLimit, "67108864 bytes"},
		{"gzip bomb after the end of the archive", honest(t, append(tarBytes(t, tarEntry{name: "a"}), zeros...)),
			ErrLayerLimit, "more than 8388608 bytes uncompressed"},
		{"too many entries", honest(t, tarBytes(t, many...)), ErrLayerLimit, "more than 100 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cacheState(t, dir)
			start := time.Now()
			_, err := st.unpackLayer(tc.layer, func(Progress) {})
			t.Logf("refused in %v: %v", time.Since(start), err)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("error %v; want %v saying %q", err, tc.want, tc.say)
			}
			if after := cacheState(t, dir); after != before {
				t.Errorf("the cache changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			d, _ := tc.layer.DiffID()
			if d != sha(good) && exists(filepath.Join(dir, "layers", d.Hex)) {
				t.Error("the refused layer is in the cache")
			}
		})
	}
	if got := readFile(t, filepath.Join(goodDir, "etc/os-release")); got != "ID=good\n" {
		t.Errorf("the good layer now says %q", got)
	}
	// An image that truly has the shared layer gets it, not the poison.
	sharedDir, err := st.unpackLayer(honest(t, shared), func(Progress) {})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sharedDir, "etc/os-release")); got != "ID=shared\n" {
		t.Errorf("the shared layer says %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("left in tmp: %v", ents)
	}
}

func TestFreeSpaceReserve(t *testing.T) {
	dir := t.TempDir()
	st, err := NewStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := honest(t, tarBytes(t, tarEntry{name: "f", body: "data"}))
	st.SetLayerLimits(LayerLimits{FreeReserve: 1 << 62})
	if _, err := st.unpackLayer(l, func(Progress) {}); !errors.Is(err, ErrLayerLimit) || !strings.Contains(err.Error(), "free") {
		t.Fatalf("layer with a reserve larger than the disk: %v", err)
	}
	st.SetLayerLimits(LayerLimits{})
	if _, err := st.unpackLayer(l, func(Progress) {}); err != nil {
		t.Fatalf("the same layer with the default reserve: %v", err)
	}
}

func TestWhiteoutsCannotEscape(t *testing.T) {
	for _, name := range []string{".wh.", ".wh..", ".wh...", "sub/.wh..", "sub/.wh..."} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			os.MkdirAll(filepath.Join(root, "sub"), 0o755)
			os.WriteFile(filepath.Join(root, "sub", "kept"), []byte("k"), 0o644)
			os.WriteFile(filepath.Join(parent, "secret"), []byte("host"), 0o644)
			err := Unpack(layer(t, tarEntry{name: name}), root, Flatten)
			if !errors.Is(err, errBadWhiteout) {
				t.Errorf("Unpack = %v, want errBadWhiteout", err)
			}
			if !exists(filepath.Join(root, "sub", "kept")) || !exists(filepath.Join(parent, "secret")) {
				t.Error("a whiteout removed a directory")
			}
		})
	}
	// aufs's hard-link directory marker is skipped, as Docker does.
	root := t.TempDir()
	if err := Unpack(layer(t, tarEntry{name: ".wh..wh.plnk", typ: tar.TypeDir}), root, Flatten); err != nil {
		t.Errorf(".wh..wh.plnk: %v", err)
	}
}

// TestDirTimesStayInRoot: a directory's times are set after all entries,
// by path; a later entry that turned a parent into a symlink to the host
// must not carry that write out of the root.
func TestDirTimesStayInRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(outside, "sub"))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: old},
		{Name: "a/sub/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: old},
		{Name: "a", Typeflag: tar.TypeSymlink, Linkname: outside, ModTime: old},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	if err := Unpack(&b, root, Flatten); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(outside, "sub"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a directory outside the root got the layer's time: %v → %v", before.ModTime(), after.ModTime())
	}
}
