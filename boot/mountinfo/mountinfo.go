package mountinfo

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// Mount is one line of mountinfo.
type Mount struct {
	Dev    string // "major:minor" of the mounted device
	Point  string // where it is mounted
	FSType string
	Source string // as given to mount: "/dev/sda1", "proc"
}

// Read returns this process's mounts in mount order.
func Read() ([]Mount, error) {
	return ReadFile("/proc/self/mountinfo")
}

// ReadFile reads a mount table in the mountinfo format from path.
func ReadFile(path string) ([]Mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse parses the mountinfo format: six fields, optional tags, a "-",
// then the fstype and the source. Octal escapes (\040 for a space) are
// decoded in the mount point and the source. Lines that do not have that
// shape are skipped.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	// One line can exceed the default 64 KiB: overlay mounts list all
	// their layers in the options.
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		out = append(out, Mount{Dev: f[2], Point: Unescape(f[4]), FSType: f[sep+1], Source: Unescape(f[sep+2])})
	}
	return out, sc.Err()
}

// Unescape decodes the octal escapes the kernel writes for spaces, tabs,
// newlines and backslashes in paths. Anything that is not a byte in octal
// is left as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctalByte(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctalByte(s string) bool {
	if len(s) != 3 || s[0] < '0' || s[0] > '3' {
		return false
	}
	for i := 1; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}
