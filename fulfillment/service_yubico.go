package fulfillment

import (
	"context"

	"github.com/preenroll/preenroll/yubico"
)

// idempotentCreates reports whether createFPRShipment makes Yubico
// de-duplicate a repeated create (the client sends an Idempotency-Key). Only
// then does the Service repeat a create whose outcome is unknown; otherwise
// such a record is marked errored for a person to check (never a second
// shipment).
const idempotentCreates = false

// createFPRShipment creates a FIDO Pre-reg shipment with idempotency key key.
func createFPRShipment(ctx context.Context, c *yubico.Client, req yubico.FPRShipmentRequest, key string) (yubico.FPRShipment, error) {
	_ = key
	return c.CreateFPRShipment(ctx, req)
}
