package results

// OriginTruth is the origin's ground truth for one run: what the fault server saw and did,
// counted on its side of the wire. The runner fills it from the fault server's counters (this
// package knows no engine; the field names match the fault server's /stats JSON), merge adds
// it up, and reports set it beside the client's view.
type OriginTruth struct {
	// ConnectionsAccepted counts TCP connections the origin accepted.
	ConnectionsAccepted uint64 `json:"connections_accepted"`
	// TLSHandshakes and TLSHandshakeErrors count completed and failed TLS handshakes.
	TLSHandshakes      uint64 `json:"tls_handshakes"`
	TLSHandshakeErrors uint64 `json:"tls_handshake_errors"`
	// RequestsStarted counts requests of which at least one byte arrived (a proxy's retry
	// shows up twice); RequestsRead those whose whole head was read.
	RequestsStarted uint64 `json:"requests_started"`
	RequestsRead    uint64 `json:"requests_read"`
	// ResponsesCompleted counts responses written in full.
	ResponsesCompleted uint64 `json:"responses_completed"`
	// BadRequests counts requests the origin's parser rejected (400, 408, 431, ...).
	BadRequests uint64 `json:"bad_requests"`
	// Closes counts connection ends by side and by what went on the wire.
	Closes OriginCloses `json:"closes"`
	// Faults counts faults injected, by kind.
	Faults map[string]uint64 `json:"faults"`
}

// OriginCloses counts connection ends: by the origin (as FIN or RST) and by its peer.
type OriginCloses struct {
	ServerFIN uint64 `json:"server_fin"`
	ServerRST uint64 `json:"server_rst"`
	PeerFIN   uint64 `json:"peer_fin"`
	PeerRST   uint64 `json:"peer_rst"`
}

// FaultsTotal sums the faults injected.
func (o *OriginTruth) FaultsTotal() uint64 {
	var n uint64
	for _, v := range o.Faults {
		n += v
	}
	return n
}

// Add adds other's counts to o.
func (o *OriginTruth) Add(other *OriginTruth) {
	o.ConnectionsAccepted += other.ConnectionsAccepted
	o.TLSHandshakes += other.TLSHandshakes
	o.TLSHandshakeErrors += other.TLSHandshakeErrors
	o.RequestsStarted += other.RequestsStarted
	o.RequestsRead += other.RequestsRead
	o.ResponsesCompleted += other.ResponsesCompleted
	o.BadRequests += other.BadRequests
	o.Closes.ServerFIN += other.Closes.ServerFIN
	o.Closes.ServerRST += other.Closes.ServerRST
	o.Closes.PeerFIN += other.Closes.PeerFIN
	o.Closes.PeerRST += other.Closes.PeerRST
	if len(other.Faults) > 0 && o.Faults == nil {
		o.Faults = make(map[string]uint64, len(other.Faults))
	}
	for k, n := range other.Faults {
		o.Faults[k] += n
	}
}

// OriginTruth returns the origin ground truth and whether the result has one.
func (r *Result) OriginTruth() (*OriginTruth, bool) { return r.Origin, r.Origin != nil }
