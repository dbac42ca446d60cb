"""cloudflare"""
