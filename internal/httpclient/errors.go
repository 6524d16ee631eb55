package httpclient

import "errors"

// Status5xx stands, in [StatusSentinels.New], for every status from 500 to
// 599.
const Status5xx = -500

// StatusSentinels maps HTTP statuses to a client's sentinel errors. Each
// sentinel names its statuses where it is declared, with
// [StatusSentinels.New]; the zero value maps no status.
type StatusSentinels struct {
	byStatus map[int]error
}

// New returns a new sentinel error with text msg and records it as the
// sentinel of statuses (and of every 5xx for [Status5xx]). It is meant
// for the declaration of a package's sentinels; a status recorded twice
// keeps the later sentinel.
func (s *StatusSentinels) New(msg string, statuses ...int) error {
	err := errors.New(msg)
	if s.byStatus == nil {
		s.byStatus = make(map[int]error)
	}
	for _, st := range statuses {
		s.byStatus[st] = err
	}
	return err
}

// For returns the sentinel of status, nil for a status none was recorded
// for.
func (s *StatusSentinels) For(status int) error {
	if status >= 500 && status <= 599 {
		return s.byStatus[Status5xx]
	}
	return s.byStatus[status]
}

// Sentinels returns the sentinel of status as the one-element list an
// APIError's Unwrap returns, or nil.
func (s *StatusSentinels) Sentinels(status int) []error {
	if err := s.For(status); err != nil {
		return []error{err}
	}
	return nil
}
