package errext

// Flatten returns the leaves of err: the errors joined in it (errors.Join), recursively, in
// order. An error that joins nothing is its own only leaf; nil has none. It is the one walker
// for "every problem at once" errors, used wherever they are listed line by line.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}
