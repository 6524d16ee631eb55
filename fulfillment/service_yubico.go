package fulfillment

import (
	"context"
	"fmt"

	"github.com/preenroll/preenroll/yubico"
)

// needYubico returns an error wrapping ErrInvalidConfig, naming
// Config.Yubico, when the Service was made without a Yubico client (a
// Service that only orders) and op needs one.
func (s *Service) needYubico(op string) error {
	if s.yubico != nil {
		return nil
	}
	return fmt.Errorf("%w: Config.Yubico: required to %s (this Service was made without one, to order only)", ErrInvalidConfig, op)
}

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
