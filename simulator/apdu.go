package simulator

import "encoding/binary"

// Instruction bytes the card itself handles.
const (
	insSelect      byte = 0xA4
	insGetResponse byte = 0xC0

	claChain byte = 0x10 // command chaining: more blocks follow

	// maxChainedData bounds the data reassembled from chained commands.
	maxChainedData = 1 << 16
)

// Status words the card level uses besides those in applet.go.
const (
	swLastCommandExpected uint16 = 0x6883
	swLogicalChannel      uint16 = 0x6881
	swSecureMessaging     uint16 = 0x6882
)

// parseAPDU decodes an ISO 7816-4 command APDU in any of the cases 1, 2S,
// 3S, 4S, 2E, 3E and 4E. On failure it returns the status word to answer.
func parseAPDU(raw []byte) (command, uint16) {
	if len(raw) < 4 {
		return command{}, swWrongLength
	}
	cmd := command{cla: raw[0], ins: raw[1], p1: raw[2], p2: raw[3]}
	switch {
	case cmd.cla == 0xFF:
		return command{}, swClaNotSupported
	case cmd.cla&0x80 == 0 && cmd.cla&0x60 != 0:
		// Further interindustry classes (0x40–0x7F) are not supported.
		return command{}, swClaNotSupported
	case cmd.cla&0x80 == 0 && cmd.cla&0x0C != 0:
		return command{}, swSecureMessaging
	case cmd.cla&0x80 == 0 && cmd.cla&0x03 != 0:
		return command{}, swLogicalChannel
	}
	body := raw[4:]
	switch {
	case len(body) == 0: // case 1
		return cmd, 0
	case len(body) == 1: // case 2S
		cmd.ne = shortLe(body[0])
		return cmd, 0
	case body[0] != 0: // case 3S or 4S
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			cmd.ne = shortLe(body[1+lc])
		default:
			return command{}, swWrongLength
		}
		cmd.data = body[1 : 1+lc]
		return cmd, 0
	case len(body) == 3: // case 2E
		cmd.extended = true
		cmd.ne = extendedLe(body[1:3])
		return cmd, 0
	case len(body) < 3:
		return command{}, swWrongLength
	}
	// case 3E or 4E
	cmd.extended = true
	lc := int(binary.BigEndian.Uint16(body[1:3]))
	if lc == 0 {
		return command{}, swWrongLength
	}
	switch len(body) {
	case 3 + lc:
	case 5 + lc:
		cmd.ne = extendedLe(body[3+lc:])
	default:
		return command{}, swWrongLength
	}
	cmd.data = body[3 : 3+lc]
	return cmd, 0
}

// shortLe decodes a one-byte Le field: 0 stands for 256 (ISO/IEC 7816-4
// §5.1).
func shortLe(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// extendedLe decodes a two-byte Le field: 0 stands for 65536.
func extendedLe(b []byte) int {
	if n := int(binary.BigEndian.Uint16(b)); n != 0 {
		return n
	}
	return 65536
}

// encodeAPDU builds a command APDU, short when the data and ne fit, extended
// otherwise. ne is the expected response length (0: none, 256 or 65536 for
// "as much as there is").
func encodeAPDU(cla, ins, p1, p2 byte, data []byte, ne int) []byte {
	out := make([]byte, 4, 4+3+len(data)+2)
	out[0], out[1], out[2], out[3] = cla, ins, p1, p2
	if len(data) <= 255 && ne <= 256 {
		if len(data) > 0 {
			out = append(out, byte(len(data)))
			out = append(out, data...)
		}
		if ne > 0 {
			out = append(out, byte(ne)) // 256 encodes as 0
		}
		return out
	}
	out = append(out, 0)
	if len(data) > 0 {
		out = binary.BigEndian.AppendUint16(out, uint16(len(data)))
		out = append(out, data...)
	}
	if ne > 0 {
		out = binary.BigEndian.AppendUint16(out, uint16(ne)) // 65536 encodes as 0
	}
	return out
}

func appendSW(b []byte, sw uint16) []byte { return binary.BigEndian.AppendUint16(b, sw) }

// withSW returns a copy of data followed by sw, in one allocation.
func withSW(data []byte, sw uint16) []byte {
	out := make([]byte, len(data), len(data)+2)
	copy(out, data)
	return appendSW(out, sw)
}

// splitSW splits a response APDU into data and status word.
func splitSW(resp []byte) ([]byte, uint16, bool) {
	if len(resp) < 2 {
		return nil, 0, false
	}
	n := len(resp) - 2
	return resp[:n], binary.BigEndian.Uint16(resp[n:]), true
}
