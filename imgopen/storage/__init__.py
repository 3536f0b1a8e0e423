"""Where inputs and outputs live, and the URLs that reach them."""
