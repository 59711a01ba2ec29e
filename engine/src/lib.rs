//! frameless-engine: runs a distilled frameless student on microcontrollers.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
