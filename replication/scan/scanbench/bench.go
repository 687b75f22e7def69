// Package scanbench measures the scanner of package scan on a generated
// folder against Debian's clamscan with the same signature files, for
// `c2c bench scan`. It also generates the signature sets the scan tests
// use.
package scanbench

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clone2clone/c2c/replication/scan"
	"github.com/clone2clone/c2c/replication/scanwire"
)

// Result is what `c2c bench scan --json` prints.
type Result struct {
	FolderMB      float64  `json:"folder_mb"`
	Files         int      `json:"files"`
	BodySigs      int      `json:"body_sigs"`
	HashSigs      int      `json:"hash_sigs"`
	LoadMs        float64  `json:"load_ms"`
	HashOnly      float64  `json:"hash_only_mb_per_s"`
	HashEveryFile float64  `json:"hash_md5_every_file_mb_per_s"`
	Body10k       float64  `json:"body_10k_mb_per_s"`
	ShortSigs     int      `json:"short_anchor_sigs"`
	BodyShort     float64  `json:"body_10k_short_1k_mb_per_s"`
	RescanMs      float64  `json:"rescan_unchanged_ms"`
	DBHeapMB      float64  `json:"db_heap_mb"`
	RemoteFiles   int      `json:"remote_files"`
	RemoteMB      float64  `json:"remote_mb"`
	RemoteMiss    float64  `json:"remote_miss_mb_per_s"`
	RemoteHitUs   float64  `json:"remote_hit_us_per_file"`
	Clamscan      float64  `json:"clamscan_mb_per_s"`
	ClamscanWallS float64  `json:"clamscan_wall_s"`
	ClamscanLoadS float64  `json:"clamscan_load_s"`
	Ratio         float64  `json:"ratio_vs_clamscan"`
	Detected      int      `json:"detected"`
	Expected      int      `json:"expected"`
	ClamDetected  int      `json:"clamscan_detected"`
	Notes         []string `json:"notes"`
}

type file struct {
	path string
	size int64
	sum  [32]byte
}

// makeFolder writes about total bytes of mixed files under dir: text,
// random binary, copies of earlier files, a few with EICAR inside or at
// the end, and a few that the hash database names. It returns the files
// and the ones to put in the hash database.
func makeFolder(dir string, total int64, rng *rand.Rand) (files []file, known []Known, expected int, err error) {
	words := strings.Fields("the mirror clone device replay batch input file chunk store verdict scan signature provider user phone network cache hash block")
	var written int64
	var datas [][]byte
	for i := 0; written < total; i++ {
		var data []byte
		var sub string
		switch {
		case i%10 == 9 && len(datas) > 0:
			data, sub = datas[rng.IntN(len(datas))], "copies"
		case i%3 == 0:
			var b bytes.Buffer
			for n := 10<<10 + rng.IntN(2<<20); b.Len() < n; {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(" \n"[rng.IntN(2)])
			}
			data, sub = b.Bytes(), "text"
		default:
			data = make([]byte, 100<<10+rng.IntN(8<<20))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			sub = "bin"
		}
		switch {
		case i == 4 || i == 40:
			data = append(append([]byte{}, data...), scan.EICAR()...)
			sub, expected = "eicar", expected+1
		case i == 7:
			data = append(append(append([]byte{}, data[:len(data)/2]...), scan.EICAR()...), data[len(data)/2:]...)
			sub, expected = "eicar", expected+1
		case i == 11 || i == 23:
			known = append(known, Known{fmt.Sprintf("Bench.Known.%d", i), data})
			sub, expected = "known", expected+1
		}
		p := filepath.Join(dir, sub, fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, nil, 0, err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, nil, 0, err
		}
		if sub != "copies" && sub != "known" && sub != "eicar" {
			datas = append(datas, data)
		}
		files = append(files, file{p, int64(len(data)), sha256.Sum256(data)})
		written += int64(len(data))
	}
	return files, known, expected, nil
}

// Run builds a 200 MB folder and the signature files in a temporary
// directory, measures, and removes them. Progress goes to progress.
func Run(progress io.Writer) (*Result, error) {
	tmp, err := os.MkdirTemp("", "c2c-bench-scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rng := rand.New(rand.NewPCG(42, 15))
	folder, sigDir, empty := filepath.Join(tmp, "folder"), filepath.Join(tmp, "sigs"), filepath.Join(tmp, "empty")
	for _, d := range []string{folder, sigDir, empty} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(progress, "scan bench: writing a 200 MB folder of mixed files")
	files, known, expected, err := makeFolder(folder, 200<<20, rng)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	fmt.Fprintln(progress, "scan bench: writing 10,000 .ndb and 100,000 .hdb signatures")
	var ndb, hdb bytes.Buffer
	// EICAR in the .ndb file too, so that clamscan, which has no built-in
	// signature, detects the same files.
	fmt.Fprintf(&ndb, "%s:0:*:%x\n", scan.EICARName, scan.EICAR())
	if err := WriteNDB(&ndb, 9999, rng); err != nil {
		return nil, err
	}
	if err := WriteHDB(&hdb, 100000, rng, known); err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{"gen.ndb": ndb.Bytes(), "gen.hdb": hdb.Bytes()} {
		if err := os.WriteFile(filepath.Join(sigDir, name), b, 0o644); err != nil {
			return nil, err
		}
	}

	res := &Result{FolderMB: float64(total) / 1e6, Files: len(files), Expected: expected}
	t0 := time.Now()
	var set scan.SigSet
	for _, name := range []string{"gen.ndb", "gen.hdb"} {
		f, err := os.Open(filepath.Join(sigDir, name))
		if err != nil {
			return nil, err
		}
		err = scan.ParseFile(name, f, &set)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	db, err := scan.NewDB(1, &set)
	if err != nil {
		return nil, err
	}
	res.LoadMs = ms(time.Since(t0))
	res.HashSigs, res.BodySigs = db.Counts()

	// Read everything once so that every pass, clamscan's too, reads from
	// the page cache.
	for _, f := range files {
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, err
		}
	}
	mbps := func(d time.Duration) float64 { return float64(total) / 1e6 / d.Seconds() }
	pass := func(e *scan.Engine, what string, sized bool) (time.Duration, int, error) {
		fmt.Fprintf(progress, "scan bench: %s\n", what)
		found := 0
		t0 := time.Now()
		for _, f := range files {
			var v scan.Verdict
			var err error
			if sized {
				v, _, err = e.ScanBlob(f.sum, f.size, func() (io.ReadCloser, error) { return os.Open(f.path) })
			} else {
				v, err = scanFile(e, f.path, -1)
			}
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w", f.path, err)
			}
			if v.Infected {
				found++
			}
		}
		return time.Since(t0), found, nil
	}
	d, _, err := pass(scan.NewEngine(db.HashOnly(), scan.NewCache(1<<16)), "hash signatures only", true)
	if err != nil {
		return nil, err
	}
	res.HashOnly = mbps(d)
	d, _, err = pass(scan.NewEngine(db.HashOnly(), nil), "hash signatures only, MD5 of every file (size not given)", false)
	if err != nil {
		return nil, err
	}
	res.HashEveryFile = mbps(d)
	cache := scan.NewCache(1 << 16)
	full := scan.NewEngine(db, cache)
	d, res.Detected, err = pass(full, "10,000 body and 100,000 hash signatures", true)
	if err != nil {
		return nil, err
	}
	res.Body10k = mbps(d)
	d, found, err := pass(full, "rescan unchanged, through the verdict cache", true)
	if err != nil {
		return nil, err
	}
	if found != res.Detected {
		return nil, fmt.Errorf("rescan found %d, first scan %d", found, res.Detected)
	}
	res.RescanMs = ms(d)

	// The cost of the 2-byte-anchor path: the same set plus 1,000
	// signatures that have only a 2-byte anchor (not given to clamscan).
	var short bytes.Buffer
	if err := WriteShortNDB(&short, 1000, rng); err != nil {
		return nil, err
	}
	if err := scan.ParseFile("short.ndb", &short, &set); err != nil {
		return nil, fmt.Errorf("short.ndb: %w", err)
	}
	sdb, err := scan.NewDB(2, &set)
	if err != nil {
		return nil, err
	}
	res.ShortSigs = sdb.ShortAnchored()
	d, found, err = pass(scan.NewEngine(sdb, nil), "the same plus 1,000 signatures with only a 2-byte anchor", true)
	if err != nil {
		return nil, err
	}
	if found != res.Detected {
		return nil, fmt.Errorf("with short-anchor signatures found %d, without %d", found, res.Detected)
	}
	res.BodyShort = mbps(d)

	var sigs []scanwire.SigFile
	for _, name := range []string{"gen.ndb", "gen.hdb"} {
		b, err := os.ReadFile(filepath.Join(sigDir, name))
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, scanwire.SigFile{Name: name, Data: b})
	}
	if res.DBHeapMB, err = heapOf(func() (any, error) { return scanwire.Compile(1, sigs) }); err != nil {
		return nil, err
	}
	if err := remote(progress, res, files, sigs); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	res.Notes = append(res.Notes,
		"one goroutine; files read from the page cache; the hash-only pass computes only the digests some signature of the file's size needs",
		"rescan looks each file's SHA-256 up in the verdict cache, as the mirror will: its store keeps the SHA-256 beside the CID",
		"body_10k_short_1k adds 1,000 signatures whose first part has only a 2-byte anchor (the slower fallback filter); clamscan does not get them")

	if _, err := exec.LookPath("clamscan"); err != nil {
		msg := "clamscan not found (apt-get install clamav): clamscan column skipped"
		fmt.Fprintln(progress, "scan bench: "+msg)
		res.Notes = append(res.Notes, msg)
		return res, nil
	}
	fmt.Fprintln(progress, "scan bench: clamscan on an empty folder (signature load time)")
	load, _, err := clamscan(sigDir, empty)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(progress, "scan bench: clamscan on the folder")
	wall, out, err := clamscan(sigDir, folder)
	if err != nil {
		return nil, err
	}
	res.ClamDetected = strings.Count(out, " FOUND\n")
	res.ClamscanWallS, res.ClamscanLoadS = wall.Seconds(), load.Seconds()
	res.Clamscan = mbps(wall - load)
	res.Ratio = res.Body10k / res.Clamscan
	res.Notes = append(res.Notes, "clamscan_mb_per_s is the folder's size over clamscan's wall time less its load time on an empty folder; ratio_vs_clamscan is body_10k over it")
	return res, nil
}

func scanFile(e *scan.Engine, path string, size int64) (scan.Verdict, error) {
	f, err := os.Open(path)
	if err != nil {
		return scan.Verdict{}, err
	}
	defer f.Close()
	return e.Scan(f, size)
}

// clamscan runs `clamscan -d sigDir --no-summary -r dir`; its exit status
// 1 means it found something.
func clamscan(sigDir, dir string) (time.Duration, string, error) {
	cmd := exec.Command("clamscan", "-d", sigDir, "--no-summary", "-r", dir)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("clamscan: %w: %s", err, out.String())
	}
	return d, out.String(), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
