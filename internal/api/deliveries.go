package api

import (
	"context"

	"github.com/lifeboat-dev/lifeboat"
)

// DeliveryService lists a run's outbound webhook deliveries and sends one
// again (jobs.Runner).
type DeliveryService interface {
	// DeliveryList is lifeboat.ErrNotFound for an unknown run.
	DeliveryList(ctx context.Context, runID int64) ([]lifeboat.Delivery, error)
	// Redeliver queues the delivery again; ENOTFOUND for an unknown id,
	// ECONFLICT when its notifier is no longer a configured webhook.
	Redeliver(ctx context.Context, id int64) (lifeboat.Delivery, error)
}

// ListRunDeliveries answers the run's webhook deliveries, oldest first.
func (s *Server) ListRunDeliveries(ctx context.Context, in ListRunDeliveriesRequestObject) (ListRunDeliveriesResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	ds, err := s.Deliveries.DeliveryList(ctx, in.Id)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		return nil, lifeboat.Errorf(lifeboat.ENOTFOUND, "run %d not found", in.Id)
	}
	if err != nil {
		return nil, err
	}
	return ListRunDeliveries200JSONResponse(DeliveryList{Deliveries: ds}), nil
}

// RedeliverDelivery queues a delivery again: 202 with it, pending.
func (s *Server) RedeliverDelivery(ctx context.Context, in RedeliverDeliveryRequestObject) (RedeliverDeliveryResponseObject, error) {
	if in.Id <= 0 {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "id: %d is not a delivery id (a positive integer)", in.Id)
	}
	d, err := s.Deliveries.Redeliver(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return RedeliverDelivery202JSONResponse(d), nil
}
