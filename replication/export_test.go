package replication

// Re-encoders for the fuzz tests: a decoded message must encode back to the
// very bytes it came from (one encoding per value).

func ReencodeBatch(b *Batch) []byte {
	return append(append(b.encodeContent(), b.Chain[:]...), b.Sig...)
}

func ReencodeOffer(o *Offer) []byte { return append(o.encodeBody(), o.Sig...) }

func ReencodeTemplate(t *Template) []byte { return append(t.encodeBody(), t.Sig...) }
