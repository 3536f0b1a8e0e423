"""Classical and offline vision shared by tools and the engine: faces, ControlNet preprocessors."""
