//! Synthetic tenant generator.
