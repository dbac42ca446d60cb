"""uploads"""
