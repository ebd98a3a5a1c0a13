"""TRON protocol primitives shared by tronrent and trondevnet: addresses, keys, protobuf, txID."""
