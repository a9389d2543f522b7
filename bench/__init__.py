"""Benchmarks: lilya_ws against raw ASGI, Starlette and Lilya (see bench/README.md)."""
