package fulfillment_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/preenroll/preenroll/fulfillment"
)

func ExampleStatus_Next() {
	s := fulfillment.Shipped
	s, _ = s.Next(fulfillment.EventResendPIN) // resending keeps the key Shipped
	fmt.Println(s.Label())

	s, _ = s.Next(fulfillment.EventSignIn)
	fmt.Println(s.Label())

	_, err := s.Next(fulfillment.EventResendPIN)
	fmt.Println(errors.Is(err, fulfillment.ErrInvalidTransition))
	fmt.Println(err)
	// Output:
	// Shipped
	// Active
	// true
	// fulfillment: invalid status transition: event "resend-pin" from ACTIVE to SHIPPED (the PIN is gone after the first sign-in)
}

func ExampleCanOrder() {
	fmt.Println(fulfillment.CanOrder(fulfillment.Shipped))
	fmt.Println(fulfillment.CanOrder(fulfillment.Active))
	// Output:
	// fulfillment: a key is already in fulfillment for this user (current key Shipped; wait until it is active or delete it)
	// <nil>
}

func ExampleShippingInfo_Check() {
	p := fulfillment.Profile{
		FirstName:     "Jan",
		LastName:      "Lindberg",
		Organization:  "Example Inc.",
		Email:         "jan.lindberg@example.com",
		PrimaryPhone:  "(781) 555-0142",
		StreetAddress: "7788 Foxrun Street",
		City:          "Dedham",
		State:         "Mass.",
		ZipCode:       "2026",
		CountryCode:   "us",
		UserStatus:    "STAGED", // a new user: the PIN goes to the secondary email
	}
	err := fulfillment.ShippingInfoFromProfile(p).Check() // Normalize, then Validate

	var ve *fulfillment.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f)
		}
	}
	// Output:
	// secondEmail: required
	// state "Mass.": must be a two-letter USPS code for US
	// zipCode "2026": not a valid US postal code (like "12345 or 12345-6789")
}

func ExampleShippingInfo_Normalize() {
	s := fulfillment.ShippingInfo{
		FirstName:   "  Zoe\u0308 ",
		Phone:       "020 7946 0958",
		PostalCode:  "sw1a2aa",
		CountryCode: "gb",
	}.Normalize()
	fmt.Printf("%q %q %q %q\n", s.FirstName, s.Phone, s.PostalCode, s.CountryCode)
	// Output:
	// "Zoë" "+442079460958" "SW1A 2AA" "GB"
}

func ExampleReadHRIS() {
	f, err := os.Open("testdata/servicenow.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	dir, err := fulfillment.ReadHRIS(f, fulfillment.FormatJSON, fulfillment.ServiceNowMapping())
	if err != nil {
		fmt.Println(err)
		return
	}
	for p, err := range dir.All(context.Background()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		s := fulfillment.ShippingInfoFromProfile(p).Normalize()
		fmt.Println(p.Login, s.CountryCode, s.PostalCode, s.Phone, s.Validate() == nil)
	}
	// Output:
	// maria.garcia@example.com CA M5H 2N2 +14165550199 true
	// lars.nilsson@example.com SE 111 51 +46812345678 true
	// priya.sharma@example.com IN 110001 +919876543210 true
}
