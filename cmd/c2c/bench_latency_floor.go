package main

import (
	"crypto/ed25519"
	"crypto/rand"
	mrand "math/rand/v2"
	"runtime"
	"time"

	"github.com/clone2clone/c2c/docsync/ot"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"
)

// deliveryFloor times, on this machine and in the same run, the least a
// clone must spend on one delivered entry, which issue 13 names as the
// floor of cpu_us_per_delivery: two Ed25519 verifications (the author's
// and the sequencer's signatures), one XChaCha20-Poly1305 open and one OT
// apply. The signatures and the ciphertext are entryBytes long and the
// apply inserts a token at a random place in a text of textLen runes, as
// the bench's writers do. The result is the mean thread CPU time over at
// least 100 ms of it (the goroutine is locked to its thread, so other
// load on the machine does not count), so a machine that is slower today
// shows it here too and cpu_us_per_delivery can be read against it.
func deliveryFloor(entryBytes, textLen int) time.Duration {
	entryBytes = max(entryBytes, 64)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	msg := make([]byte, entryBytes)
	_, _ = rand.Read(msg)
	sig := ed25519.Sign(priv, msg)
	var key [chacha20poly1305.KeySize]byte
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic(err) // a key of KeySize is always accepted
	}
	nonce := make([]byte, aead.NonceSize())
	sealed := aead.Seal(nil, nonce, msg[:entryBytes-aead.Overhead()], nil)
	plain := make([]byte, 0, len(sealed))
	doc := ot.NewDoc(string(make([]rune, textLen)))
	rng := mrand.New(mrand.NewPCG(1, 2))

	one := func() {
		if !ed25519.Verify(pub, msg, sig) || !ed25519.Verify(pub, msg, sig) {
			panic("deliveryFloor: a signature made here does not verify")
		}
		if _, err := aead.Open(plain[:0], nonce, sealed, nil); err != nil {
			panic("deliveryFloor: " + err.Error())
		}
		n := doc.Len()
		var o ot.Op
		pos := rng.IntN(n + 1)
		o.Retain(pos).Insert(" w03-000123").Retain(n - pos)
		if err := doc.Apply(o); err != nil {
			panic("deliveryFloor: " + err.Error())
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	one() // warm up
	t0 := threadCPU()
	var reps int
	for threadCPU()-t0 < 100*time.Millisecond || reps < 50 {
		one()
		reps++
	}
	return (threadCPU() - t0) / time.Duration(reps)
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err) // Linux has had this clock since 2.6.12
	}
	return time.Duration(ts.Nano())
}
