package main

import (
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
)

// windowProfiles records pprof profiles (CPU, mutex, block) of a bench's
// measured window into the files given; an empty name records nothing.
type windowProfiles struct {
	cpu, mutex, block string
	cpuFile           *os.File
}

func (p *windowProfiles) start() error {
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(int(10e3)) // one sample per 10 us blocked
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
	for _, x := range []struct{ name, file string }{{"mutex", p.mutex}, {"block", p.block}} {
		if x.file == "" {
			continue
		}
		f, err := os.Create(x.file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, pprof.Lookup(x.name).WriteTo(f, 0), f.Close())
	}
	runtime.SetMutexProfileFraction(0)
	runtime.SetBlockProfileRate(0)
	return errors.Join(errs...)
}
