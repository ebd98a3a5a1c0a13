"""Local TRON devnet: a java-tron HTTP API simulator. Imports nothing of tronrent."""
