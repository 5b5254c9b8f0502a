"""The JSON 1.1 endpoint: the protocol (``protocol``), the caller's identity (``identity``), who may act on which
registry (``authorization``) and what a handler is given (``context``)."""
