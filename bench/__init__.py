"""Performance benchmarks for lemonbot (see bench/README.md)."""
