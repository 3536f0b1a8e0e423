"""Safe image input (fetch with an SSRF guard, data URIs, limits, decoding) and output encoding."""
