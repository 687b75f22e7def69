// Package scanwire puts the mirror's antivirus (package scan) on the
// network (issue 15, item 4): the provider signs and serves its signature
// database and runs the one scanner engine of its process; its clones ask
// it for verdicts, scan each new file of their mirror on arrival, and sign
// the report `c2c device scan` prints.
//
// Roles and protocols:
//
//   - [Provider] runs in the provider process: one [scan.Engine] and one
//     [scan.Cache] keyed by (SHA-256, database version), shared by every
//     clone that asks, so a blob is scanned once per database version
//     however many mirrors hold it. It serves
//     /c2c/scan/sigs/1.0.0 (the signed [Manifest] of the current database)
//     and /c2c/scan/1.0.0 (a blob's SHA-256 and size -> a verdict from the
//     cache, or a request for the bytes, which it scans, checks against the
//     SHA-256 the clone named, and only then caches; the answer is a
//     [SignedVerdict] under the provider's key). Per asking peer it keeps
//     budgets: scans per second, bytes per second, concurrent scans, and a
//     blob size cap. It answers any peer: the provider keeps no list of
//     its clones, so a verdict from the cache (no bytes asked for) tells
//     the asker that some clone had a blob of that SHA-256 and size.
//   - [Store] keeps the provider's database durably in its datastore: each
//     `c2c provider sigs add` parses and validates the files, bumps the
//     version and signs the new manifest; nothing is written unless every
//     file parses.
//   - [Client] runs in the clone: it fetches its provider's manifest and
//     checks it against the provider's key (the peer ID of its first
//     --bootstrap) before using it; a version lower than one seen before
//     is refused, and the highest is kept in the clone's datastore. It
//     implements [Scanner] (ScanBlob(ctx, ref)) for the clone's other
//     services, such as download caching: a verdict comes back signed by
//     the provider with the database version and is kept in the clone's
//     datastore.
//   - [Arrival] is the mirror observer that scans new files: on each
//     replayed batch it kicks a worker, which lists the files app and scans
//     what has no verdict under the current version.
//   - [ServeReports] answers /c2c/mirror/scan/1.0.0 from the clone's own
//     device only: progress frames, then a [Report] of every file of the
//     mirror (path, CID, SHA-256, verdict, database version) signed by the
//     clone, which [VerifyReport] checks offline.
//
// Why the provider scans and not each clone, in figures from
// `c2c bench scan` on the 2-core machine this was built on: one compiled
// database of 10k body and 100k hash signatures holds about 23 MB of live
// heap (db_heap_mb), which one engine per mirror would cost every clone
// process, and each clone would scan every blob itself; through the
// provider, a cache miss ran at 190-280 MB/s over loopback libp2p
// (remote_miss_mb_per_s, the bytes sent included; a local scan of the same
// set ran at 650-790 MB/s), and a blob any clone of the provider already
// had scanned costs about 0.25-0.3 ms and no bytes (remote_hit_us_per_file).
//
// Why clones fetch the manifest and not the signature files: a clone never
// runs an engine (one per provider process, never one per mirror), so it
// needs the version and what it names (the files' SHA-256s and the
// signature counts, all signed), not the bytes. The wire codecs are pure
// and fuzzed; every read is bounded before it allocates.
package scanwire
