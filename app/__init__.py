"""Printrelay server: REST and Socket.IO over one domain."""
