"""instantID: face analysis (antelopev2), keypoint control image, and the InstantID SDXL pipeline."""
