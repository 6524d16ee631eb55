package yubicotest

import "github.com/preenroll/preenroll/yubico"

// The fake organisation's defaults.

func defaultProducts() []yubico.Product {
	return []yubico.Product{
		{ID: 1, Name: "YubiKey 5 NFC", InventoryType: 1},
		{ID: 2, Name: "YubiKey 5 Nano", InventoryType: 1},
		{ID: 3, Name: "YubiKey 5C", SKU: "5060408461488", InventoryType: 1},
		{ID: 4, Name: "YubiKey 5C Nano", InventoryType: 1},
		{ID: 5, Name: "YubiKey 5Ci", InventoryType: 1},
		{ID: 7, Name: "Security Key NFC by Yubico", InventoryType: 1},
		{ID: 12, Name: "Primary Subscr - Base Tier: Initial", InventoryType: 3, Tier: 1},
		{ID: 15, Name: "Primary Subscr - Adv. Tier: Initial", InventoryType: 3, Tier: 2},
		{ID: 29, Name: "YubiKey 5C NFC", InventoryType: 1},
		{ID: 54, Name: "YubiKey 5 NFC FIPS", InventoryType: 1},
		{ID: 55, Name: "YubiKey 5C NFC FIPS", InventoryType: 1},
		{ID: 56, Name: "YubiKey 5Ci FIPS", InventoryType: 1},
		{ID: 57, Name: "YubiKey 5 Nano FIPS", InventoryType: 1},
		{ID: 106, Name: "Advanced Plus - Primary: Initial", InventoryType: 3, Tier: 3},
		{ID: 107, Name: "Advanced Plus - Primary: Replacement", InventoryType: 3, Tier: 3},
	}
}

func defaultBuckets() []Bucket {
	return []Bucket{
		{ProductID: 1, Quantity: 100},
		{ProductID: 29, Quantity: 100},
		{ProductID: 54, Quantity: 100},
		{ProductID: 55, Quantity: 100},
		{ProductID: 106, Quantity: 100, InventoryType: 3, ProductTier: 3, ProductMapping: []int{1, 29},
			Subscription: true, Virtual: true},
	}
}

func defaultCountries() []Country {
	return []Country{
		{"US", "United States"}, {"CA", "Canada"}, {"GB", "United Kingdom"}, {"IE", "Ireland"},
		{"DE", "Germany"}, {"FR", "France"}, {"NL", "Netherlands"}, {"SE", "Sweden"},
		{"NO", "Norway"}, {"DK", "Denmark"}, {"FI", "Finland"},
	}
}
