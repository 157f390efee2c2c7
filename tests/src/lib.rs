//! End-to-end tests of Tidings across crates; the tests are in `tests/`.
