"""A tus 1.0.0 server inside the app, for backends the app hosts (the local disk).

protocol.py names the protocol's headers and extensions; body.py reads request bodies
(spliced from the socket when it can); store.py moves bytes to partial files; uploads.py
holds the rules and the `Upload` rows; views.py is the blueprint (`/tus`) and fast.py the
WSGI fast path for chunk PATCHes.
"""
