//! The crate's single error type, [`DpdkError`], and helpers that turn DPDK's
//! `rte_errno` / negative return codes into readable text via
//! `rte_strerror`. Every fallible wrapper in this crate returns `DpdkError`.

use std::ffi::CStr;

use crate::sys;

/// Everything that can go wrong in the DPDK wrappers. Variants that come from
/// a DPDK call carry the (positive) errno `code` and the `rte_strerror` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpdkError {
    /// An rte_flow rule was refused by the driver (validation or creation) or could not be
    /// destroyed.
    #[error("DPDK port {port}: rte_flow {step}: {msg}")]
    Flow {
        /// Port id.
        port: u16,
        /// `validate`, `create` or `destroy`.
        step: &'static str,
        /// The driver's message.
        msg: String,
    },
    /// An EAL argument could not be turned into a C string.
    #[error("invalid EAL argument #{index} {arg:?}: {reason}")]
    InvalidArgument {
        /// Position in the argument list.
        index: usize,
        /// The argument, lossily printed.
        arg: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// `Eal::init` was already called (successfully or not) in this process.
    /// DPDK's EAL can only be initialised once per process.
    #[error("EAL initialisation was already attempted in this process; DPDK allows it only once")]
    EalAlreadyInitialized,
    /// A wrapper that needs a running EAL was called before `Eal::init` or
    /// after the `Eal` was dropped.
    #[error("the DPDK EAL is not running (call Eal::init first, and keep the Eal alive)")]
    EalNotRunning,
    /// `rte_eal_init` failed.
    #[error("rte_eal_init failed: {msg} (rte_errno {code})")]
    EalInit {
        /// rte_errno.
        code: i32,
        /// rte_strerror(code).
        msg: String,
    },
    /// Creating or using a mempool failed.
    #[error("mempool {name:?}: {msg} (rte_errno {code})")]
    Mempool {
        /// Pool name.
        name: String,
        /// rte_errno (0 when the error is detected by this crate).
        code: i32,
        /// Explanation.
        msg: String,
    },
    /// No ethdev port with that name (or id) exists.
    #[error("DPDK port {name:?} not found; available ports: {available:?}")]
    PortNotFound {
        /// The name (or `"port N"`) looked up.
        name: String,
        /// Names of the ports that do exist.
        available: Vec<String>,
    },
    /// The port is already owned by another live [`crate::Port`].
    #[error("DPDK port {port} is already configured by another Port handle")]
    PortBusy {
        /// Port id.
        port: u16,
    },
    /// The device has fewer queues than requested.
    #[error(
        "DPDK port {port} ({name}): requested {requested_rx} RX / {requested_tx} TX queues \
         but the device supports at most {max_rx} RX / {max_tx} TX"
    )]
    TooManyQueues {
        /// Port id.
        port: u16,
        /// Port name.
        name: String,
        /// Requested RX queues.
        requested_rx: u16,
        /// Requested TX queues.
        requested_tx: u16,
        /// dev_info.max_rx_queues.
        max_rx: u16,
        /// dev_info.max_tx_queues.
        max_tx: u16,
    },
    /// A step of port configuration / control failed.
    #[error("DPDK port {port}: {step} failed: {msg} (code {code})")]
    PortConfig {
        /// Port id.
        port: u16,
        /// The DPDK call or step that failed.
        step: &'static str,
        /// errno (positive) or 0 when detected by this crate.
        code: i32,
        /// Explanation (rte_strerror text or ours).
        msg: String,
    },
    /// A queue handle is not available (already taken, or out of range).
    #[error("DPDK port {port}: {kind} queue {queue} is {why}")]
    QueueUnavailable {
        /// Port id.
        port: u16,
        /// "RX" or "TX".
        kind: &'static str,
        /// Queue index.
        queue: u16,
        /// "already taken", "out of range" or "on a closed port".
        why: &'static str,
    },
    /// Launching or waiting for an lcore failed.
    #[error("lcore {lcore}: {msg} (code {code})")]
    Lcore {
        /// lcore id.
        lcore: u32,
        /// errno (positive) or 0.
        code: i32,
        /// Explanation.
        msg: String,
    },
    /// The closure launched on an lcore panicked; the panic was caught at the
    /// FFI boundary and did not unwind into DPDK.
    #[error("closure on lcore {lcore} panicked: {msg}")]
    LcorePanic {
        /// lcore id.
        lcore: u32,
        /// The panic message, if it was a string.
        msg: String,
    },
    /// An mbuf length operation does not fit the buffer.
    #[error("mbuf {op}: {requested} bytes requested but only {available} available")]
    MbufRoom {
        /// The operation (set_data_len, adj, trim).
        op: &'static str,
        /// Requested size.
        requested: usize,
        /// What the buffer allows.
        available: usize,
    },
    /// Creating a ring failed.
    #[error("ring {name:?}: {msg} (rte_errno {code})")]
    Ring {
        /// Ring name.
        name: String,
        /// rte_errno (0 when detected by this crate).
        code: i32,
        /// Explanation.
        msg: String,
    },
}

/// `rte_strerror(code)` as an owned string. `code` is a positive errno or
/// DPDK-specific error (E_RTE_*).
pub(crate) fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to either a
    // static string or a per-thread (per-lcore TLS) buffer, NUL-terminated in
    // both cases; it does not need the EAL to be initialised. We copy the text
    // out before this thread can call rte_strerror again.
    let p = unsafe { sys::rte_strerror(code) };
    if p.is_null() {
        return format!("error {code}");
    }
    // SAFETY: p is non-null and points to a NUL-terminated string (see above)
    // that stays valid until the next rte_strerror call on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The calling thread's `rte_errno`.
pub(crate) fn last_errno() -> i32 {
    // SAFETY: shim_errno reads the calling thread's TLS `rte_errno`; it has no
    // preconditions.
    unsafe { sys::shim_errno() }
}

/// Normalises a DPDK return code (`-errno`) to `(errno, text)`.
pub(crate) fn from_ret(ret: i32) -> (i32, String) {
    let code = ret.checked_neg().unwrap_or(ret);
    (code, strerror(code))
}
