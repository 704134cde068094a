"""Star CloudPRNT printers: printers that poll the server themselves (docs/cloudprnt.md)."""
