"""The HTTP gateway: the public JSON API in front of the nameko services (see README.md)."""
