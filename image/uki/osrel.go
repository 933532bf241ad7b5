package uki

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// OSRelease is the .osrel section: an os-release(5) document that
// systemd-boot shows in its menu and uses to order entries, and that the
// box reads back to learn which image generation it runs.
type OSRelease struct {
	ID         string // machine-readable OS name, e.g. nucbox
	Name       string // human-readable name
	VersionID  string // the nucbox version that built the image
	PrettyName string // default: "Name VersionID"
	// ImageVersion is the image generation: 1 for a freshly built image,
	// raised by every upgrade so the newer of two slots can be told apart
	// even when both carry the same nucbox version.
	ImageVersion int
}

// NewOSRelease describes a nucbox image of the given version and
// generation.
func NewOSRelease(version string, generation int) OSRelease {
	return OSRelease{ID: "nucbox", Name: "nucbox", VersionID: version, ImageVersion: generation}
}

// Bytes renders the document. Values that are not plain words are quoted,
// as os-release(5) asks, so that shell-style parsers read them back
// unchanged.
func (o OSRelease) Bytes() []byte {
	pretty := o.PrettyName
	if pretty == "" {
		pretty = strings.TrimSpace(o.Name + " " + o.VersionID)
	}
	var b bytes.Buffer
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s=%s\n", k, quote(v))
		}
	}
	line("ID", o.ID)
	line("NAME", o.Name)
	line("PRETTY_NAME", pretty)
	line("VERSION_ID", o.VersionID)
	if o.ImageVersion != 0 {
		line("IMAGE_VERSION", strconv.Itoa(o.ImageVersion))
	}
	return b.Bytes()
}

// plainValue reports whether v can stand unquoted in an os-release file.
func plainValue(v string) bool {
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-+:~", r)
		if !ok {
			return false
		}
	}
	return v != ""
}

func quote(v string) string {
	if plainValue(v) {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	return `"` + r.Replace(v) + `"`
}

// ParseOSRelease reads an os-release document. Unknown keys are ignored;
// an IMAGE_VERSION that is not a number is an error, because an upgrade
// would otherwise restart the generation count at 1.
func ParseOSRelease(data []byte) (OSRelease, error) {
	var o OSRelease
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(v)
		switch k {
		case "ID":
			o.ID = v
		case "NAME":
			o.Name = v
		case "PRETTY_NAME":
			o.PrettyName = v
		case "VERSION_ID":
			o.VersionID = v
		case "IMAGE_VERSION":
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, fmt.Errorf("os-release: IMAGE_VERSION=%q is not a number", v)
			}
			o.ImageVersion = n
		}
	}
	return o, sc.Err()
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '\'' {
			return v
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}
