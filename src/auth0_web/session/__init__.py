"""Sessions: the cookie codec, chunking, the stateless store and login transactions."""

from ._model import AccessTokenSet, ConnectionTokenSet, SessionData, SessionInternal, TokenSet

__all__ = ["AccessTokenSet", "ConnectionTokenSet", "SessionData", "SessionInternal", "TokenSet"]
