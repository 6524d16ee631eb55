package simulator

import (
	"errors"
	"fmt"
	"strings"
)

// CTAP status codes (CTAP 2.1 §8.2) the simulator returns.
const (
	ctapOK                     byte = 0x00
	ctapInvalidCommand         byte = 0x01
	ctapInvalidParameter       byte = 0x02
	ctapInvalidLength          byte = 0x03
	ctapCBORUnexpectedType     byte = 0x11
	ctapInvalidCBOR            byte = 0x12
	ctapMissingParameter       byte = 0x14
	ctapLimitExceeded          byte = 0x15
	ctapCredentialExcluded     byte = 0x19
	ctapInvalidCredential      byte = 0x22
	ctapUnsupportedAlgorithm   byte = 0x26
	ctapOperationDenied        byte = 0x27
	ctapKeyStoreFull           byte = 0x28
	ctapUnsupportedOption      byte = 0x2B
	ctapInvalidOption          byte = 0x2C
	ctapNoCredentials          byte = 0x2E
	ctapUserActionTimeout      byte = 0x2F
	ctapNotAllowed             byte = 0x30
	ctapPINInvalid             byte = 0x31
	ctapPINBlocked             byte = 0x32
	ctapPINAuthInvalid         byte = 0x33
	ctapPINAuthBlocked         byte = 0x34
	ctapPINNotSet              byte = 0x35
	ctapPUATRequired           byte = 0x36
	ctapPINPolicyViolation     byte = 0x37
	ctapRequestTooLarge        byte = 0x39
	ctapInvalidSubcommand      byte = 0x3E
	ctapUnauthorizedPermission byte = 0x40
	ctapOther                  byte = 0x7F
)

var ctapNames = map[byte]string{
	ctapOK:                     "CTAP2_OK",
	ctapInvalidCommand:         "CTAP1_ERR_INVALID_COMMAND",
	ctapInvalidParameter:       "CTAP1_ERR_INVALID_PARAMETER",
	ctapInvalidLength:          "CTAP1_ERR_INVALID_LENGTH",
	ctapCBORUnexpectedType:     "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
	ctapInvalidCBOR:            "CTAP2_ERR_INVALID_CBOR",
	ctapMissingParameter:       "CTAP2_ERR_MISSING_PARAMETER",
	ctapLimitExceeded:          "CTAP2_ERR_LIMIT_EXCEEDED",
	ctapCredentialExcluded:     "CTAP2_ERR_CREDENTIAL_EXCLUDED",
	ctapInvalidCredential:      "CTAP2_ERR_INVALID_CREDENTIAL",
	ctapUnsupportedAlgorithm:   "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
	ctapOperationDenied:        "CTAP2_ERR_OPERATION_DENIED",
	ctapKeyStoreFull:           "CTAP2_ERR_KEY_STORE_FULL",
	ctapUnsupportedOption:      "CTAP2_ERR_UNSUPPORTED_OPTION",
	ctapInvalidOption:          "CTAP2_ERR_INVALID_OPTION",
	ctapNoCredentials:          "CTAP2_ERR_NO_CREDENTIALS",
	ctapUserActionTimeout:      "CTAP2_ERR_USER_ACTION_TIMEOUT",
	ctapNotAllowed:             "CTAP2_ERR_NOT_ALLOWED",
	ctapPINInvalid:             "CTAP2_ERR_PIN_INVALID",
	ctapPINBlocked:             "CTAP2_ERR_PIN_BLOCKED",
	ctapPINAuthInvalid:         "CTAP2_ERR_PIN_AUTH_INVALID",
	ctapPINAuthBlocked:         "CTAP2_ERR_PIN_AUTH_BLOCKED",
	ctapPINNotSet:              "CTAP2_ERR_PIN_NOT_SET",
	ctapPUATRequired:           "CTAP2_ERR_PUAT_REQUIRED",
	ctapPINPolicyViolation:     "CTAP2_ERR_PIN_POLICY_VIOLATION",
	ctapRequestTooLarge:        "CTAP2_ERR_REQUEST_TOO_LARGE",
	ctapInvalidSubcommand:      "CTAP2_ERR_INVALID_SUBCOMMAND",
	ctapUnauthorizedPermission: "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
	ctapOther:                  "CTAP1_ERR_OTHER",
}

// Sentinel errors. A [*CTAPError] matches the sentinel of its code with
// errors.Is.
var (
	ErrPINInvalid           = errors.New("simulator: wrong PIN")                                 // CTAP2_ERR_PIN_INVALID
	ErrPINBlocked           = errors.New("simulator: PIN blocked, only a reset helps")           // CTAP2_ERR_PIN_BLOCKED
	ErrPINAuthBlocked       = errors.New("simulator: PIN blocked until the key is power cycled") // CTAP2_ERR_PIN_AUTH_BLOCKED
	ErrPINAuthInvalid       = errors.New("simulator: PIN/UV auth parameter invalid")             // CTAP2_ERR_PIN_AUTH_INVALID
	ErrPINNotSet            = errors.New("simulator: no PIN set")                                // CTAP2_ERR_PIN_NOT_SET
	ErrPINRequired          = errors.New("simulator: PIN required")                              // CTAP2_ERR_PUAT_REQUIRED
	ErrPINPolicyViolation   = errors.New("simulator: PIN policy violation")                      // CTAP2_ERR_PIN_POLICY_VIOLATION
	ErrOperationDenied      = errors.New("simulator: operation denied by the user")              // CTAP2_ERR_OPERATION_DENIED
	ErrUserActionTimeout    = errors.New("simulator: user did not touch the key in time")        // CTAP2_ERR_USER_ACTION_TIMEOUT
	ErrNoCredentials        = errors.New("simulator: no credentials")                            // CTAP2_ERR_NO_CREDENTIALS
	ErrCredentialExcluded   = errors.New("simulator: credential excluded")                       // CTAP2_ERR_CREDENTIAL_EXCLUDED
	ErrNotAllowed           = errors.New("simulator: not allowed")                               // CTAP2_ERR_NOT_ALLOWED
	ErrUnsupportedAlgorithm = errors.New("simulator: unsupported algorithm")                     // CTAP2_ERR_UNSUPPORTED_ALGORITHM
	ErrKeyStoreFull         = errors.New("simulator: key store full")                            // CTAP2_ERR_KEY_STORE_FULL

	// ErrNotPresent is returned while the key is removed (see [Key.Remove]).
	ErrNotPresent = errors.New("simulator: key not present")
	// ErrSecurity is the platform's SecurityError: the RP ID is not a
	// registrable suffix of the origin, or the origin is not secure.
	ErrSecurity = errors.New("simulator: security error")
	// ErrNotSupported is the platform's NotSupportedError: no requested
	// algorithm or option is supported by the key.
	ErrNotSupported = errors.New("simulator: not supported")
	// ErrConstraint is the platform's ConstraintError / NotAllowedError for
	// requirements the ceremony cannot meet: user verification required
	// of a key without a PIN, or with no PIN given (a browser's PIN prompt
	// cancelled), and a discoverable credential on a key with a PIN and
	// no PIN given. The error also wraps the *CTAPError the key would
	// answer (CTAP2_ERR_PIN_NOT_SET, CTAP2_ERR_PUAT_REQUIRED), so
	// errors.Is(err, ErrPINNotSet) holds too.
	ErrConstraint = errors.New("simulator: constraint not satisfiable")
	// ErrCard is returned by the platform when the card answers an APDU
	// with an unexpected status word.
	ErrCard = errors.New("simulator: card error")
)

var ctapSentinels = map[byte]error{
	ctapPINInvalid:           ErrPINInvalid,
	ctapPINBlocked:           ErrPINBlocked,
	ctapPINAuthBlocked:       ErrPINAuthBlocked,
	ctapPINAuthInvalid:       ErrPINAuthInvalid,
	ctapPINNotSet:            ErrPINNotSet,
	ctapPUATRequired:         ErrPINRequired,
	ctapPINPolicyViolation:   ErrPINPolicyViolation,
	ctapOperationDenied:      ErrOperationDenied,
	ctapUserActionTimeout:    ErrUserActionTimeout,
	ctapNoCredentials:        ErrNoCredentials,
	ctapCredentialExcluded:   ErrCredentialExcluded,
	ctapNotAllowed:           ErrNotAllowed,
	ctapUnsupportedAlgorithm: ErrUnsupportedAlgorithm,
	ctapKeyStoreFull:         ErrKeyStoreFull,
}

// CTAPError is a CTAP status code other than CTAP2_OK returned by the key.
type CTAPError struct {
	Code byte
}

// Error returns the code's CTAP name and, for a code with a sentinel, what
// it means, e.g. "authenticator returned CTAP2_ERR_PIN_AUTH_BLOCKED (0x34):
// PIN blocked until the key is power cycled"; the [Platform] methods that
// return it prefix their own context.
func (e *CTAPError) Error() string {
	name, ok := ctapNames[e.Code]
	if !ok {
		name = "CTAP error"
	}
	msg := fmt.Sprintf("authenticator returned %s (0x%02X)", name, e.Code)
	if s, ok := ctapSentinels[e.Code]; ok {
		msg += ": " + strings.TrimPrefix(s.Error(), "simulator: ")
	}
	return msg
}

// Is reports whether target is the sentinel of e's code.
func (e *CTAPError) Is(target error) bool {
	s, ok := ctapSentinels[e.Code]
	return ok && s == target
}

// CardError is a status word other than 9000 answered by the card to the
// platform.
type CardError struct {
	SW uint16
}

// Error returns the status word in hex.
func (e *CardError) Error() string { return fmt.Sprintf("card answered SW %04X", e.SW) }

// Is matches [ErrCard].
func (e *CardError) Is(target error) bool { return target == ErrCard }

// errTouchDenied and errTouchTimeout are what env.touch returns when the
// simulated user refuses or does not touch the key.
var (
	errTouchDenied  = errors.New("simulator: touch denied")
	errTouchTimeout = errors.New("simulator: touch timed out")
)
