// Package guard holds the two small tools every service uses against
// strangers: a keyed token-bucket Limiter (per peer, per author), which
// bounds what one key can cost and forgets idle keys so that its own memory
// stays bounded, and Refusals, which counts every refusal by reason (also
// as a Prometheus counter) and logs it at info at most once per peer per
// interval, so an operator sees why without a stranger filling the log.
//
// Both take the time as an argument or through an injected clock: they
// start no goroutine and read no clock of their own.
package guard
