package main

import (
	"context"

	"github.com/gatecrash/gatecrash/faultserver"
	"github.com/gatecrash/gatecrash/faultserver/adminclient"
)

// watchOriginAdmin takes the counters of the fault server whose admin API is at base
// (gatecrash serve --admin) at the start of a load run, so that the run's result carries
// what that origin did during it and its fault events.
func watchOriginAdmin(ctx context.Context, base string) (*faultserver.Watch, error) {
	c, err := adminclient.New(base)
	if err != nil {
		return nil, err
	}
	return faultserver.StartWatch(ctx, c, c.String())
}
