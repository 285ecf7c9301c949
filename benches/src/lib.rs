//! Benchmarks (see README).
