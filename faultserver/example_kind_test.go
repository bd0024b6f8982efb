package faultserver

// This file is the whole of a new fault kind, to prove the recipe in docs/architecture.md:
// one file with the type, its parameters, its behaviour and one registration line. It lives
// in a _test file so that it exists only in this package's tests.

import (
	"fmt"
	"strconv"
)

// exampleKind is registered only in tests; tests that need "every real kind" leave it out.
const exampleKind = "example-teapot"

// ExampleTeapot answers 418 with a body that announces Length bytes but sends Sent of them,
// then resets: a made-up fault that uses the primitives a real one does.
type ExampleTeapot struct {
	Selector `yaml:",inline"`
	Length   int `yaml:"length"`
	Sent     int `yaml:"sent"`
}

func init() { register(exampleKind, func() Fault { return &ExampleTeapot{Length: 10, Sent: 4} }) }

func (f *ExampleTeapot) Validate() error {
	if f.Sent < 0 || f.Sent > f.Length {
		return fmt.Errorf("%s: sent: %d is not allowed; allowed: 0 to length (%d)", exampleKind, f.Sent, f.Length)
	}
	return nil
}

func (f *ExampleTeapot) respond(c *conn, req *Request) (bool, error) {
	b := []byte("HTTP/1.1 418 I'm a teapot\r\nContent-Length: " + strconv.Itoa(f.Length) + "\r\n\r\n")
	if err := c.write(b); err != nil {
		return false, err
	}
	if err := c.writePayload(f.Length, f.Sent, false); err != nil {
		return false, err
	}
	c.closeAs(CloseRST)
	return false, nil
}

var _ ResponseFault = (*ExampleTeapot)(nil)
