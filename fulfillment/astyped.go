package fulfillment

import "errors"

// Check normalises s and validates the result ([ShippingInfo.Normalize],
// then [ShippingInfo.Validate]). Its *ValidationError quotes each bad value
// as it is in s, as the administrator typed it ("Mass."), not in its
// normalised form ("MASS."), so it can be found in the profile or export.
func (s ShippingInfo) Check() error {
	return s.asTyped(s.Normalize().Validate())
}

// asTyped rewrites the values quoted by err, a validation error of s's
// normalised form, to the values of s.
func (s ShippingInfo) asTyped(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	street := s.StreetLine1
	if s.StreetLine2 != "" {
		street += "\n" + s.StreetLine2
	}
	typed := map[string]string{
		"firstName": s.FirstName, "lastName": s.LastName, "organization": s.Company,
		"email": s.Email, "secondEmail": s.SecondEmail, "primaryPhone": s.Phone,
		"streetAddress": street, "city": s.City, "state": s.Region, "zipCode": s.PostalCode,
		"countryCode": s.CountryCode,
	}
	out := &ValidationError{Fields: make([]FieldError, len(ve.Fields)), kind: ve.kind, cause: ve.cause}
	for i, f := range ve.Fields {
		if v, ok := typed[f.Field]; ok && f.Value != "" {
			f.Value = truncateValue(v)
		}
		out.Fields[i] = f
	}
	return out
}
