//! The codecs' entry points for the fuzz crate in `fuzz/`, gathered from the
//! layers' own `fuzzing` modules (the Engine.IO codecs, the virtual-request
//! parser). Built only with the `fuzzing` feature, which nothing but `fuzz/`
//! turns on.

pub use switchyard_engineio::fuzzing::*;
pub use switchyard_sails::fuzzing::*;
