//! Views over the headers the dataplane reads and rewrites in place.
//!
//! Modelled on smoltcp's `wire`: field offsets live in a private `field` module per header,
//! accessors are named after the RFC field, setters are `set_*`, and `new_checked` validates
//! lengths once so accessors cannot go out of bounds afterwards. Views borrow the frame; nothing
//! is copied.

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod l4;

/// Why a frame failed validation. Each maps to exactly one drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the header it claims to carry.
    Truncated,
    /// A field has a value the protocol does not allow.
    Malformed,
    /// A checksum does not verify.
    Checksum,
}
