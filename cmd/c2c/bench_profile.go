package main

import (
	"errors"
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
// shows the window's. exec is an execution trace of the window (go tool
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
	if p.exec != "" {
		f, err := os.Create(p.exec)
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return err
		}
		p.execFile = f
	}
	if p.cpu == "" {
		return nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.cpuFile = f
	return nil
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
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup(name).WriteTo(f, 0), f.Close())
}
