"""The OpenID Connect / OAuth 2.0 protocol, with no web framework and no cookies.

One private module per protocol step, named after it: discovery and JWKS, the
authorization request (PKCE), the token endpoint, ID token validation.
"""
