"""The Automatic1111 web UI's API (`/sdapi/v1/*`, and the ControlNet extension's `/controlnet/*`) on
the same server, over the same tasks, models and engine: A1111's names, defaults, answers and HTTP
status codes, not the Img Open envelope."""
