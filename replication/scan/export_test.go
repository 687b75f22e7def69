package scan

// SetChunkSize makes engines created afterwards read n bytes at a time,
// so that small tests straddle reads; it returns the undo.
func SetChunkSize(n int) (undo func()) {
	old := chunkSize
	chunkSize = n
	return func() { chunkSize = old }
}
