package yubicotest

// TrivialPIN exposes trivialPIN to the tests.
var TrivialPIN = func(pin string) bool { return trivialPIN([]byte(pin)) }
