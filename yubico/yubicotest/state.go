package yubicotest

import (
	"fmt"
	"strings"

	"github.com/preenroll/preenroll/yubico"
)

// AddToken makes the fake accept another API token.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[token]; !ok && token != "" {
		id, err := s.newIDLocked()
		if err != nil {
			id = "user"
		}
		s.tokens[token] = id
	}
}

// RevokeToken makes the fake refuse a token (401).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetInventory sets the quantity of the bucket productID, creating a plain
// stock bucket if there is none. A negative quantity is refused.
func (s *Server) SetInventory(productID, quantity int) error {
	if quantity < 0 {
		return fmt.Errorf("yubicotest: SetInventory: quantity %d is negative", quantity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bucketLocked(productID); b != nil {
		b.Quantity = quantity
		return nil
	}
	s.buckets = append(s.buckets, &Bucket{ProductID: productID, Name: s.productNameLocked(productID), Quantity: quantity, InventoryType: 1})
	return nil
}

// Inventory returns the current buckets.
func (s *Server) Inventory() []Bucket {
	s.lock()
	defer s.mu.Unlock()
	out := make([]Bucket, len(s.buckets))
	for i, b := range s.buckets {
		out[i] = *b
		out[i].ProductMapping = append([]int(nil), b.ProductMapping...)
	}
	return out
}

// AddCountry allows shipping to another country.
func (s *Server) AddCountry(c Country) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.countryAllowedLocked(c.Code) {
		s.countries = append(s.countries, c)
	}
}

// AddDeniedParty puts a name on the denied-party list.
func (s *Server) AddDeniedParty(name string) {
	if normName(name) == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[normName(name)] = true
}

// AddAddressRule adds an undeliverable-address rule; a nil rule is
// ignored.
func (s *Server) AddAddressRule(r AddressRule) {
	if r == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
}

func (s *Server) bucketLocked(id int) *Bucket {
	for _, b := range s.buckets {
		if b.ProductID == id {
			return b
		}
	}
	return nil
}

func (s *Server) productLocked(id int) (yubico.Product, bool) {
	for _, p := range s.products {
		if p.ID == id {
			return p, true
		}
	}
	return yubico.Product{}, false
}

func (s *Server) productNameLocked(id int) string {
	if p, ok := s.productLocked(id); ok {
		return p.Name
	}
	return fmt.Sprintf("Product %d", id)
}

func (s *Server) countryAllowedLocked(code string) bool {
	for _, c := range s.countries {
		if c.Code == code {
			return true
		}
	}
	return false
}

func normName(n string) string { return strings.ToLower(strings.Join(strings.Fields(n), " ")) }

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
