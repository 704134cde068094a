"""Printrelay bridge agent: runs on the shop PC next to the printers."""
