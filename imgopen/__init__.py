"""imgopen: a self-hosted server that speaks the Img Open AI image API."""

__version__ = "0.1.0"
