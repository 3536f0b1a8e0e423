"""LoRA training as a task: dataset, loop, checkpoints, the kohya-format result."""
