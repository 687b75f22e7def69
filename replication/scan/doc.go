// Package scan is the mirror's antivirus core (issue 15, item 4): it reads
// ClamAV's hash and body signature formats and scans a stream against them.
//
//   - [ParseFile] reads `.hdb` and `.hsb` hash signatures (hash:size:name,
//     MD5, SHA-1 or SHA-256 told apart by the hash's length, a size of `*`
//     allowed) and `.ndb` body signatures (name:target:offset:hexsig) of
//     target type 0 (other targets are skipped and counted), with offsets
//     `*`, `n` and `EOF-n` and hex with `??`, nibbles `a?`/`?a`, `{n}`,
//     `{n-m}`, `{n-}`, `{-m}`, `*` and `(aa|bb)` alternatives of equal
//     length. Errors carry the line number and wrap one of the ErrX
//     sentinels; nothing is allocated from a size the file announces. A
//     valid ClamAV form the scanner does not implement (`!(..)`, `[x-y]`,
//     `(B)`, `(L)`, unequal or wildcard alternatives, floating offsets, a
//     part without 2 literal bytes in a row) is skipped and counted in
//     SigSet.Unsupported rather than failing the file, so a real
//     database loads with what can be scanned.
//   - [NewDB] compiles signature sets, with EICAR built in, into an immutable
//     database with a version.
//   - [Engine] scans an io.Reader with bounded memory (a fixed buffer; a
//     signature may straddle two reads, and the tail is kept for EOF-n
//     offsets). Body signatures go through a filter on a 4-byte literal
//     anchor taken from each part's first fixed segment, then are verified;
//     a part whose first segment has no 4 literal bytes in a row but 2 (as
//     ClamAV itself needs) goes through a second, slower filter on 2-byte
//     values, run only when the database has such parts (about 2.6 times
//     slower with 1,000 of them: c2c bench scan, body_10k_short_1k);
//     a signature split by `*` or `{n-}` keeps, per part, the earliest end
//     reached, so no backtracking crosses a read. Hash signatures are a map
//     lookup of (kind, size, digest); MD5, SHA-1 and SHA-256 are computed in
//     the same pass, and only those that some signature of that size (or of
//     size `*`) needs, since the size is known before the first byte.
//   - [Cache] holds verdicts keyed by (SHA-256, database version) and is
//     safe for concurrent use: one Engine and one Cache per provider
//     process, shared by all its mirrors, never one per mirror.
//
// The package is pure: no libp2p, no goroutine, no clock.
//
// The provider signing and distributing its database, scanning on arrival
// in the mirror and the signed report of `c2c device scan` are in package
// replication/scanwire.
package scan
