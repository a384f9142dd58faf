package lifeboat

import (
	"encoding/json"
	"time"
)

// DeliveryStatus is the state of one outbound webhook delivery.
type DeliveryStatus string

const (
	// DeliveryPending: not yet delivered and still being tried (or queued
	// for a redelivery).
	DeliveryPending DeliveryStatus = "pending"
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered DeliveryStatus = "delivered"
	// DeliveryFailed: given up, after the last attempt or at once on an
	// answer retrying cannot fix (a 4xx other than 408/425/429, a redirect,
	// a refused address). A redelivery makes it pending again.
	DeliveryFailed DeliveryStatus = "failed"
)

// Delivery is one webhook event of a run (run.started, run.succeeded,
// run.failed, run.canceled) to one webhook notifier: exactly one per (run,
// event, notifier).
type Delivery struct {
	ID       int64  `json:"id"`
	RunID    int64  `json:"run_id"`
	Notifier string `json:"notifier"`
	// Event is the webhook event type, the payload's "type".
	Event string `json:"event"`
	// MessageID is the webhook-id header, the same on every attempt and
	// redelivery so receivers can drop duplicates.
	MessageID string `json:"message_id"`
	// Payload is the exact body sent; it carries no secret.
	Payload json.RawMessage `json:"payload"`
	Status  DeliveryStatus  `json:"status"`
	// Attempts counts every attempt ever made, redeliveries included.
	Attempts int `json:"attempts"`
	// LastStatusCode is the last answer's HTTP status, nil when no attempt
	// got one (none made yet, or a connection error).
	LastStatusCode *int       `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}
