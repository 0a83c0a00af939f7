package world

import "context"

// Who makes a call. The emulator's front door (the TLS and token endpoint, when it runs with
// authentication) knows the principal behind each credential and puts it in the request's
// context with WithPrincipal; API handlers read it with Caller. Without a front door, calls
// carry no principal: they act as the world's default principal when one is set (the control
// surface's "act as"), and otherwise as an unauthenticated owner of everything, as the
// emulator always did. Only checks written for a known caller deny anything.

type principalKey struct{}

// WithPrincipal returns ctx carrying principal, an IAM member ("user:alice@example.com",
// "serviceAccount:sa@p.iam.gserviceaccount.com") or a bare e-mail address.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, NormalizeMember(principal))
}

// PrincipalFrom returns the principal ctx carries, if any.
func PrincipalFrom(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey{}).(string)
	return p, ok && p != ""
}

// SetDefaultPrincipal makes calls that carry no principal act as principal ("" restores the
// unauthenticated mode, in which every permission is granted).
func (w *World) SetDefaultPrincipal(principal string) {
	w.mu.Lock()
	w.defaultPrincipal = NormalizeMember(principal)
	w.mu.Unlock()
}

// DefaultPrincipal returns the principal calls without one act as ("" when none).
func (w *World) DefaultPrincipal() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.defaultPrincipal
}

// CallerLocked returns the IAM member a call acts as, and whether one is known at all. With
// known false, callers hold every permission.
func (w *World) CallerLocked(ctx context.Context) (member string, known bool) {
	if p, ok := PrincipalFrom(ctx); ok {
		return p, true
	}
	if w.defaultPrincipal != "" {
		return w.defaultPrincipal, true
	}
	return "", false
}

// CallerMayLocked reports whether the call's principal holds permission on resource; always
// true when no principal is known.
func (w *World) CallerMayLocked(ctx context.Context, resource, permission string) bool {
	member, known := w.CallerLocked(ctx)
	return !known || w.HasPermissionLocked(member, resource, permission)
}
