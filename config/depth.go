package config

import (
	"fmt"

	"github.com/goccy/go-yaml/token"
)

// maxDepth is how deeply a config may nest collections. A real config
// nests fewer than 10 levels (vms[0].disks[0].path is 4). The YAML parser
// recurses once per level, and a Go stack overflow is fatal, not a panic
// that Parse could recover: a megabyte of "[" would take PID 1 down.
const maxDepth = 64

// depthError measures the nesting of the tokenized file before anything
// parses it, and reports the token where it first passes maxDepth. Flow
// collections count by their brackets; block collections by a stack of
// the columns where their entries ("- ", "? ", or a key before ":")
// start, since each nested block collection starts further right (or,
// for a sequence under a key, at the key's column).
func depthError(filename string, tokens token.Tokens) *Error {
	type level struct {
		col int
		seq bool
	}
	var block []level
	flow := 0
	var prev, at *token.Token
	// entry accounts for a block entry starting at col.
	entry := func(col int, seq bool) {
		for len(block) > 0 {
			top := block[len(block)-1]
			// A key at the column of an indentless sequence ends it.
			if top.col > col || (top.col == col && top.seq && !seq) {
				block = block[:len(block)-1]
				continue
			}
			break
		}
		if n := len(block); n > 0 && block[n-1].col == col && block[n-1].seq == seq {
			return
		}
		block = append(block, level{col, seq})
	}
	for _, tk := range tokens {
		at = tk
		switch tk.Type {
		case token.DocumentHeaderType:
			block, flow = block[:0], 0
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.SequenceEntryType, token.MappingKeyType:
			if flow == 0 {
				entry(tk.Position.Column, tk.Type == token.SequenceEntryType)
			}
		case token.MappingValueType:
			// The key is the token before, on the same line; a ":" at
			// the start of a line belongs to a "? " entry.
			if flow == 0 && prev != nil && prev.Position.Line == tk.Position.Line &&
				prev.Type != token.MappingKeyType && prev.Type != token.SequenceEntryType {
				entry(prev.Position.Column, false)
				at = prev
			}
		}
		if len(block)+flow > maxDepth {
			hint := ""
			if flow > 0 {
				hint = " (an unclosed [ or {?)"
			}
			return &Error{File: filename, Line: at.Position.Line, Column: at.Position.Column, Message: fmt.Sprintf(
				"collections nested more than %d deep; a config needs fewer than 10 levels%s", maxDepth, hint)}
		}
		prev = tk
	}
	return nil
}
