package simulator

import (
	"errors"

	"github.com/fxamacker/cbor/v2"
)

// ctapEnc encodes with CTAP2 canonical CBOR (CTAP 2.1 §8): definite
// lengths, no tags, shortest integers, map keys sorted by major type,
// then length, then bytes.
var ctapEnc = func() cbor.UserBufferEncMode {
	em, err := cbor.CTAP2EncOptions().UserBufferEncMode()
	if err != nil {
		panic(err) // constant options; fails only if the library changes
	}
	return em
}()

// ctapDec decodes CTAP2 requests strictly: no duplicate map keys, no
// indefinite lengths, no tags, bounded nesting and sizes.
var ctapDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  8,
		MaxArrayElements: 256,
		MaxMapPairs:      256,
		IntDec:           cbor.IntDecConvertSignedOrFail,
	}.DecMode()
	if err != nil {
		panic(err) // constant options; fails only if the library changes
	}
	return dm
}()

// decodeCTAP decodes one CTAP2 parameter map into v and maps decoding
// failures to CTAP status codes.
func decodeCTAP(data []byte, v any) byte {
	if err := ctapDec.Unmarshal(data, v); err != nil {
		var te *cbor.UnmarshalTypeError
		if errors.As(err, &te) {
			return ctapCBORUnexpectedType
		}
		return ctapInvalidCBOR
	}
	return ctapOK
}

// subcommander is a request of a CTAP command with subcommands.
type subcommander interface{ subcommand() *int }

func (r *clientPINRequest) subcommand() *int { return r.SubCommand }
func (r *cmRequest) subcommand() *int        { return r.SubCommand }

// decodeSubcommand decodes params into req and returns the subcommand,
// which such a request must have (CTAP1_ERR_MISSING_PARAMETER otherwise).
func decodeSubcommand(params []byte, req subcommander) (int, byte) {
	if code := decodeCTAP(params, req); code != ctapOK {
		return 0, code
	}
	sub := req.subcommand()
	if sub == nil {
		return 0, ctapMissingParameter
	}
	return *sub, ctapOK
}

// encodeCTAP encodes a CTAP2 response. Encoding our own response types
// cannot fail short of a programming error, reported as CTAP1_ERR_OTHER.
func encodeCTAP(v any) []byte {
	b, err := ctapEnc.Marshal(v)
	if err != nil {
		return []byte{ctapOther}
	}
	out := make([]byte, 1, 1+len(b))
	out[0] = ctapOK
	return append(out, b...)
}
