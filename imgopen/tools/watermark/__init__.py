"""watermark and watermark/decode: visible text or image marks, and an invisible text mark."""
