//! Support for end-to-end tests: the shared cluster, one namespace per test, helm and kubectl runners.
#![forbid(unsafe_code)]
