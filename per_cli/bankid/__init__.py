"""BankID RP API v6.0: client, login flow, animated QR code and a local stand-in (the simulator).

Submodules are imported on demand; this package itself imports nothing heavy so that ``per --help`` stays fast.
"""
