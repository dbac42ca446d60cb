"""LTI 1.3 tool side: login, launch, keys, dynamic registration, deep linking."""
