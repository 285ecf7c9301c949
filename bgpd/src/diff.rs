//! Reload: what changes between two validated configurations.
