//! Session, port-block and exhaustion logging (RFC 6888 REQ-12, RFC 8158): the encoders the
//! control thread uses to turn worker events into log records. Each submodule owns one wire
//! format and is pure (bytes in a caller-provided buffer, no sockets, no clocks), so the control
//! thread decides when and where the bytes go.
pub mod ipfix;
pub mod jsonl;
pub mod replay;
pub mod syslog;
