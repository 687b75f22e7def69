package client

// WithWriteHook runs hook around every state write (write does it), so a
// test can hold a write in flight.
func WithWriteHook(hook func(write func() error) error) Option {
	return func(c *Client) error { c.writeHook = hook; return nil }
}
