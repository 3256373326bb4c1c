// Package syncbuf is a buffer that several goroutines write to while a
// test reads it: a slog handler's output, a child process's stderr.
package syncbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what is written from any goroutine; the zero value is
// ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns what was written so far, a line each.
func (s *Buffer) Lines() []string {
	return strings.Split(strings.TrimSpace(s.String()), "\n")
}

// Count returns how many lines contain all of subs.
func (s *Buffer) Count(subs ...string) int {
	n := 0
	for _, l := range s.Lines() {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			n++
		}
	}
	return n
}
