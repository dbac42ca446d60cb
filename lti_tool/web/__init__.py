"""Request-facing plumbing shared by every feature: cookies, security headers, input parsing,
rate limits, proxies, and how numbers and dates are shown."""
