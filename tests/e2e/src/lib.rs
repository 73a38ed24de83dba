//! Cross-service end-to-end and fault tests live in `tests/`; this crate has no library code.
