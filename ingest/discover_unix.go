//go:build unix

package ingest

import (
	"io/fs"
	"syscall"
)

// identity returns the device and inode of st (Dev is not uint64 on every
// system, hence the conversion).
func identity(st fs.FileInfo) (fileID, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(s.Dev), ino: uint64(s.Ino)}, true
}
