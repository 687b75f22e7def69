// Package downloader is the clone's side of bulk download caching (the
// mirror paper's section 5.1.1): it fetches the URLs the device asked for
// (the downloads app's requests, heard as the mirror replays them), keeps
// each file in the mirror's blob store, scans it, and relays "file
// cached" (or why it failed) to the device as a network input.
//
// The HTTP client has connect, header and idle timeouts, a size limit, a
// redirect limit, an http/https allow-list (redirects included) and, by
// default, no address that is not public (loopback, private, link-local,
// carrier NAT, reserved, and NAT64 or 6to4 forms of those), checked on the
// address each connection dials, so that neither a redirect nor a DNS
// answer that rebinds reaches the clone's own network. Lengths are checked: the
// Content-Length against the limit before a byte is read, a 206's
// Content-Range against the offset asked, the size announced before and
// its Content-Length, and the bytes received against the size announced.
//
// A transfer cut mid-way resumes with a Range request from the bytes
// kept, validated by If-Range (the strong ETag, else Last-Modified); a
// server that ignores the Range (a 200), or a file that changed, restarts
// from zero. Progress and bytes are kept in the clone's datastore as they
// arrive (every FlushBytes, one synced batch), so a kill -9 of the clone
// resumes where the last batch left off. The pure core (Progress, Decide:
// what to ask for, what an answer means) is apart from the I/O (fetchOnce,
// the spool, the service loop).
package downloader
