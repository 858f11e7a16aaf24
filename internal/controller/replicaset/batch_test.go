package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name       string
		count      int
		failFrom   int32 // calls numbered from 1; 0 never fails
		wantOK     int
		wantErr    bool
		wantCalled int32
	}{
		{name: "all succeed", count: 10, wantOK: 10, wantCalled: 10},
		{name: "zero", count: 0, wantOK: 0, wantCalled: 0},
		// Batches 1, 2, 4: the first failure is call 2, in the batch of two.
		{name: "fails in second batch", count: 10, failFrom: 2, wantOK: 1, wantErr: true, wantCalled: 3},
		{name: "fails at once", count: 10, failFrom: 1, wantOK: 0, wantErr: true, wantCalled: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			ok, err := slowStartBatch(tt.count, 1, func() error {
				if n := calls.Add(1); tt.failFrom > 0 && n >= tt.failFrom {
					return errors.New("boom")
				}
				return nil
			})
			if ok != tt.wantOK || (err != nil) != tt.wantErr || calls.Load() != tt.wantCalled {
				t.Errorf("ok=%d err=%v calls=%d, want ok=%d err=%v calls=%d", ok, err, calls.Load(), tt.wantOK, tt.wantErr, tt.wantCalled)
			}
		})
	}
}
