//! helm-hooks core: the pure logic shared by the admission webhook and the kubectl plugin.
//!
//! No network I/O and no async runtime live here: every function takes bytes or values and
//! returns values, so all of it is unit-testable without a cluster.
#![forbid(unsafe_code)]
