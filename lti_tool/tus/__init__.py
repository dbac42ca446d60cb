"""A tus 1.0.0 server inside the app, for backends the app hosts (the local disk).

headers.py names the protocol; store.py moves bytes; service.py holds the rules;
views.py is the blueprint (`/tus`).
"""
