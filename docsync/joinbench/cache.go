package joinbench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clone2clone/c2c/docsync"
)

// The history of a run is the same on every run with the same entries,
// tail and window (seeded), and building 1,000,000 entries takes most of
// half an hour on 2 busy cores: `--history-cache FILE` keeps it. The file
// holds the entries and the snapshot as encoded, the final text and the
// joiner's HPKE key (drawn from crypto/rand); the other keys are drawn
// again from the same seed. Loading decodes every entry and
// the snapshot (signature and shape checked), and a file made with other
// parameters is refused.

const cacheMagic = "c2c-joinbench-history-v1\n"

// maxCacheRecord bounds one record of the file (the text, the snapshot, an entry).
const maxCacheRecord = docsync.MaxSnapshotBytes

func loadOrBuildHistory(path string, n, tail, window int, progress io.Writer) (*history, error) {
	if path == "" {
		return buildHistory(n, tail, window, progress)
	}
	h, err := loadHistory(path, n, tail, window)
	if err == nil {
		fmt.Fprintf(progress, "history: %d entries loaded from %s\n", len(h.entries), path)
		return h, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("history cache %s: %w", path, err)
	}
	if h, err = buildHistory(n, tail, window, progress); err != nil {
		return nil, err
	}
	return h, saveHistory(path, h, n, tail, window)
}

func saveHistory(path string, h *history, n, tail, window int) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".joinbench-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(cacheMagic)
	var u [binary.MaxVarintLen64]byte
	put := func(x uint64) { w.Write(u[:binary.PutUvarint(u[:], x)]) }
	rec := func(b []byte) { put(uint64(len(b))); w.Write(b) }
	put(uint64(n))
	put(uint64(tail))
	put(uint64(window))
	kem, err := h.joiner.KEMPrivateBytes()
	if err != nil {
		f.Close()
		return err
	}
	rec(kem)
	rec([]byte(h.text))
	rec(h.snap.Bytes())
	put(uint64(len(h.entries)))
	for _, e := range h.entries {
		b, err := e.Marshal()
		if err != nil {
			f.Close()
			return err
		}
		rec(b)
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func loadHistory(path string, n, tail, window int) (*history, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(cacheMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != cacheMagic {
		return nil, fmt.Errorf("not a history cache (%v)", err)
	}
	get := func() uint64 {
		x, e := binary.ReadUvarint(r)
		err = errors.Join(err, e)
		return x
	}
	rec := func() []byte {
		l := get()
		if err != nil || l > maxCacheRecord {
			err = errors.Join(err, fmt.Errorf("record of %d bytes", l))
			return nil
		}
		b := make([]byte, l)
		_, e := io.ReadFull(r, b)
		err = errors.Join(err, e)
		return b
	}
	if gn, gt, gw := get(), get(), get(); err == nil && (gn != uint64(n) || gt != uint64(tail) || gw != uint64(window)) {
		return nil, fmt.Errorf("made with entries %d, tail %d, window %d", gn, gt, gw)
	}
	h, _, herr := newHistory(historyRand())
	if herr != nil {
		return nil, herr
	}
	kem := rec()
	h.text = string(rec())
	snapBytes := rec()
	count := get()
	if err != nil || count != uint64(n) {
		return nil, fmt.Errorf("header: %d entries, %v", count, err)
	}
	if h.joiner, err = docsync.IdentityFromKeys(h.joiner.Sign, kem); err != nil {
		return nil, err
	}
	if h.snap, err = docsync.DecodeSealedSnapshot(snapBytes); err != nil {
		return nil, err
	}
	h.entries = make([]*docsync.Entry, 0, n)
	for range count {
		b := rec()
		if err != nil {
			return nil, err
		}
		e, err := docsync.DecodeEntry(b)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	return h, nil
}
