package notes

// Keys returns the notes' keys, in no particular order.
func (a *App) Keys() []string {
	var keys []string
	for i := range a.buckets {
		for k := range a.buckets[i] {
			keys = append(keys, k)
		}
	}
	return keys
}
