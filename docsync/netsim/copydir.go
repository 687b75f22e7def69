package netsim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// CopyDir copies the files under dir, as they are on disk at this moment,
// into a new temporary directory and returns it: what a process restarted
// after kill -9 would open (data a datastore still buffered in memory, not
// synced, is not on disk and so is lost, as with a real kill). Files deleted
// while the copy runs are skipped.
func CopyDir(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if de.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile (an obsolete file)
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
