// Package results is the result model of gatecrash: outcome classes, the result document
// ("schema": "gatecrash.result/v1") with its latency histograms in the standard HdrHistogram
// compressed base64 encoding, a bounded per-interval time series, exemplars, and the text
// summary printed at the end of a run.
//
// It imports none of gatecrash's other packages; the load generator fills a Result and the
// runner adds origin ground truth and proxy log matches to it. A Result is plain data and not
// safe for concurrent mutation; WriteFile writes it atomically (temp file + rename), so a
// reader never sees half a file.
package results
