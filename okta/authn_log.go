package okta

import "log/slog"

// redacted is what a secret logs and prints as.
const redacted = "[REDACTED]"

// LogValue makes log/slog log a Secret as "[REDACTED]" with every handler
// (the JSON handler would otherwise encode its value).
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// LogValue makes log/slog log an Authn transaction without its tokens:
// status, expiry, user, factor IDs and the challenged factor.
func (t AuthnTransaction) LogValue() slog.Value {
	ids := make([]string, len(t.Factors))
	for i, f := range t.Factors {
		ids[i] = f.ID
	}
	return slog.GroupValue(
		slog.String("status", string(t.Status)),
		slog.String("stateToken", redactedIfSet(t.StateToken)),
		slog.String("sessionToken", redactedIfSet(t.SessionToken)),
		slog.Time("expiresAt", t.ExpiresAt),
		slog.String("userId", t.User.ID),
		slog.String("login", t.User.Login),
		slog.Any("factors", ids),
		slog.String("factor", t.Factor.ID),
	)
}

// LogValue makes log/slog log primary authentication without the password.
func (r AuthnRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", r.Username), slog.String("password", redactedIfSet(r.Password)))
}

func redactedIfSet(s Secret) string {
	if s == "" {
		return ""
	}
	return redacted
}
