package main

import (
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// windowProfiles records pprof profiles (CPU, mutex, block) of a bench's
// measured window into the files given; an empty name records nothing.
// The allocation profile counts from the process's start: it is written
// at the window's start to ALLOCS.start and at its end to ALLOCS, so that
// `go tool pprof -sample_index=alloc_space -diff_base ALLOCS.start ALLOCS`
// shows the window's (each written after a forced collection: the
// runtime updates the allocation counts only when a cycle completes, and
// the window's counters are read before it). exec is an execution trace of the window (go tool
// trace), which shows what a stall that a profile averages away is.
type windowProfiles struct {
	cpu, mutex, block, allocs, exec string
	cpuFile, execFile               *os.File
}

func (p *windowProfiles) start() error {
	if p.allocs != "" {
		if err := writeProfile("allocs", p.allocs+".start"); err != nil {
			return err
		}
	}
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(int(10e3)) // one sample per 10 us blocked
	}
	var err error
	if p.execFile, err = startRecording(p.exec, trace.Start); err != nil {
		return err
	}
	if p.cpuFile, err = startRecording(p.cpu, pprof.StartCPUProfile); err != nil {
		trace.Stop()
		cerr := closeIfOpen(p.execFile)
		p.execFile = nil
		return errors.Join(err, cerr)
	}
	return nil
}

// startRecording creates file and starts a recording into it (nil, nil
// for no file name).
func startRecording(file string, start func(io.Writer) error) (*os.File, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func closeIfOpen(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}

func (p *windowProfiles) stop() error {
	var errs []error
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, p.cpuFile.Close())
		p.cpuFile = nil
	}
	if p.execFile != nil {
		trace.Stop()
		errs = append(errs, p.execFile.Close())
		p.execFile = nil
	}
	for _, x := range []struct{ name, file string }{{"mutex", p.mutex}, {"block", p.block}, {"allocs", p.allocs}} {
		if x.file != "" {
			errs = append(errs, writeProfile(x.name, x.file))
		}
	}
	runtime.SetMutexProfileFraction(0)
	runtime.SetBlockProfileRate(0)
	return errors.Join(errs...)
}

func writeProfile(name, file string) error {
	if name == "allocs" {
		runtime.GC() // the counts are as of the last completed cycle
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup(name).WriteTo(f, 0), f.Close())
}
