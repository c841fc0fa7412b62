"""Sessions: the cookie codec, chunking, the stateless store and login transactions."""

from ._model import AccessTokenSet, SessionData, SessionInternal, TokenSet

__all__ = ["AccessTokenSet", "SessionData", "SessionInternal", "TokenSet"]
