package reconnect

import (
	"errors"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	p := DefaultParams()
	ms := time.Millisecond
	for _, tc := range []struct {
		srtt, dev, want time.Duration
	}{
		{0, 0, time.Second},                   // unknown round trip (TCP): the whole budget
		{100 * time.Microsecond, 0, 250 * ms}, // loopback: the floor
		{40 * ms, 5 * ms, 250 * ms},           // 3 x (40 + 20) = 180: the floor
		{80 * ms, 10 * ms, 360 * ms},          // 3 x (80 + 40)
		{300 * ms, 50 * ms, time.Second},      // capped
	} {
		if got := p.budget(tc.srtt, tc.dev); got != tc.want {
			t.Errorf("budget(%v, %v) = %v, want %v", tc.srtt, tc.dev, got, tc.want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Params){
		func(p *Params) { p.ProbeTimeout = 0 },
		func(p *Params) { p.MinProbeTimeout = 0 },
		func(p *Params) { p.MinProbeTimeout = 2 * p.ProbeTimeout },
		func(p *Params) { p.RTTFactor = 0 },
	} {
		p := DefaultParams()
		mut(&p)
		if err := p.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("%+v: Validate = %v, want ErrParams", p, err)
		}
	}
}
