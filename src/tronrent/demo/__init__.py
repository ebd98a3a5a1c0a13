"""The devnet demo: control-API client, first-run bootstrap helpers and the `tronrent demo`
customer (a real wallet on tronpy against a running `tronrent serve`)."""
