package gateway

import (
	"context"

	"github.com/runyard/runyard/shared/whitelabel"
)

// Whitelabel adapts shared/whitelabel's Lookup: custom domains (a verified domain serves its
// tenant's runtimes only) and tenant branding for the denial page.
func Whitelabel(l *whitelabel.Lookup) (DomainResolver, Brander) { return l, brands{l} }

type brands struct{ l *whitelabel.Lookup }

func (b brands) Brand(ctx context.Context, tenant string) (Brand, error) {
	wb, _, err := b.l.TenantBranding(ctx, tenant)
	if err != nil {
		return Brand{}, err
	}
	return Brand{ProductName: wb.ProductName, LogoURL: wb.LogoURL, PrimaryColor: wb.Colors.Primary, SupportURL: wb.SupportURL}, nil
}
