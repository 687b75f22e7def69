package scan_test

import (
	"bytes"
	"testing"

	"github.com/clone2clone/c2c/replication/scan"
)

// FuzzParse feeds arbitrary bytes to both parsers; whatever parses must
// compile and scan a short input without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Test.A:0:*:41424344??45{2-4}46*47484950(aa|bb)\n",
		"Test.B:0:EOF-10:4142{-3}43\nTest.C:0:5:41424344{1-}45464748:18\n",
		"0123456789abcdef0123456789abcdef:68:Test.MD5\n",
		"0123456789abcdef0123456789abcdef01234567:*:Test.SHA1:73\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.ndb", "f.hdb"} {
			var set scan.SigSet
			if err := scan.ParseFile(name, bytes.NewReader(data), &set); err != nil {
				continue
			}
			db, err := scan.NewDB(1, &set)
			if err != nil {
				t.Fatalf("parsed but did not compile: %v", err)
			}
			if _, err := scan.NewEngine(db, nil).Scan(bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
	})
}
