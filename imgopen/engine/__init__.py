"""Diffusion: model loading, pipeline cache, generation."""
