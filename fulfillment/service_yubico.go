package fulfillment

import (
	"context"

	"github.com/preenroll/preenroll/yubico"
)

// createFPRShipment creates a FIDO Pre-reg shipment. With
// Config.IdempotentShipments the intent's key goes out as the
// Idempotency-Key header (and the client may then retry the create itself);
// without it the create is sent exactly once.
func (s *Service) createFPRShipment(ctx context.Context, req yubico.FPRShipmentRequest, key string) (yubico.FPRShipment, error) {
	if s.idempotentShipments {
		req.IdempotencyKey = key
	}
	return s.yubico.CreateFPRShipment(ctx, req)
}
