//! Single-producer / single-consumer rings of mbufs ([`Ring`]), for handing
//! packets between lcores (e.g. a distributor core feeding workers).
//!
//! Soundness model: the ring is created with `RING_F_SP_ENQ | RING_F_SC_DEQ`,
//! so DPDK requires that at most one thread enqueues and one dequeues at a
//! time. [`Ring::new`] returns exactly one [`RingProducer`] and one
//! [`RingConsumer`]; both are `Send`, and their bursts take `&mut self`, so
//! that requirement holds by construction. Ownership of each `Mbuf` moves
//! into the ring on enqueue and out on dequeue. The ring memory is shared
//! through an `Arc`; when the last end is dropped, remaining mbufs are freed
//! and the ring is released with `rte_ring_free` (no other end exists then).

use std::ffi::CString;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::EalUse;
use crate::error::{last_errno, strerror};
use crate::port::MAX_BURST;
use crate::{sys, DpdkError, Mbuf};

struct RingInner {
    ptr: NonNull<sys::rte_ring>,
    name: String,
    _eal: EalUse,
}

// SAFETY: the ring is only touched through the unique producer/consumer ends
// (SP/SC discipline enforced by &mut self) and the final Drop; the pointer is
// valid until that Drop. DPDK rings are designed to be shared by two threads.
unsafe impl Send for RingInner {}
// SAFETY: see Send; `&RingInner` only allows reading the count, which DPDK
// permits concurrently with enqueue/dequeue.
unsafe impl Sync for RingInner {}

impl RingInner {
    fn count(&self) -> usize {
        // SAFETY: valid ring; rte_ring_count only reads the head/tail indexes.
        let n = unsafe { sys::shim_ring_count(self.ptr.as_ptr()) };
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

impl Drop for RingInner {
    fn drop(&mut self) {
        // Last end: nobody else can enqueue or dequeue. Free what is left.
        let mut buf: [*mut std::ffi::c_void; 64] = [std::ptr::null_mut(); 64];
        loop {
            // SAFETY: valid ring, we are its only user now; buf holds 64
            // pointers.
            let n = unsafe {
                sys::shim_ring_sc_dequeue_burst(
                    self.ptr.as_ptr(),
                    buf.as_mut_ptr(),
                    64,
                    std::ptr::null_mut(),
                )
            };
            if n == 0 {
                break;
            }
            for p in buf.iter().take(usize::try_from(n).unwrap_or(0)) {
                if let Some(p) = NonNull::new(p.cast::<sys::rte_mbuf>()) {
                    // SAFETY: every object in the ring was an owned Mbuf moved
                    // in by RingProducer::enqueue_burst; dequeuing moves that
                    // ownership back to us.
                    drop(unsafe { Mbuf::from_raw(p) });
                }
            }
        }
        // SAFETY: created by rte_ring_create, freed exactly once, no users.
        unsafe { sys::rte_ring_free(self.ptr.as_ptr()) };
    }
}

/// Constructor namespace for SP/SC mbuf rings.
#[derive(Debug)]
pub struct Ring;

impl Ring {
    /// Creates a ring holding up to `capacity` mbufs on NUMA `socket_id`
    /// (`-1`: any) and returns its two ends. `name` must be unique.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(
        name: &str,
        capacity: u32,
        socket_id: i32,
    ) -> Result<(RingProducer, RingConsumer), DpdkError> {
        let err = |code: i32, msg: String| DpdkError::Ring {
            name: name.to_string(),
            code,
            msg,
        };
        let cname = CString::new(name).map_err(|_| err(0, "name contains a NUL byte".into()))?;
        let eal = EalUse::acquire()?;
        // SAFETY: EAL running (registration held); cname valid for the call.
        // RING_F_EXACT_SZ makes the usable size exactly `capacity`.
        let r = unsafe {
            sys::rte_ring_create(
                cname.as_ptr(),
                capacity,
                socket_id,
                sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ | sys::RING_F_EXACT_SZ,
            )
        };
        let Some(ptr) = NonNull::new(r) else {
            let code = last_errno();
            return Err(err(code, strerror(code)));
        };
        let inner = Arc::new(RingInner {
            ptr,
            name: name.to_string(),
            _eal: eal,
        });
        Ok((
            RingProducer {
                inner: Arc::clone(&inner),
            },
            RingConsumer { inner },
        ))
    }
}

/// The enqueue end of an SP/SC mbuf ring.
pub struct RingProducer {
    inner: Arc<RingInner>,
}

impl RingProducer {
    /// Moves mbufs from the front of `bufs` into the ring; returns how many.
    /// The rest stay in `bufs`. Never allocates.
    pub fn enqueue_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        let len = bufs.len();
        let Ok(n) = u32::try_from(len.min(MAX_BURST)) else {
            return 0;
        };
        if n == 0 {
            return 0;
        }
        let base = bufs.as_mut_ptr();
        // SAFETY: we are the single producer (&mut self, unique end); base
        // points to len >= n initialised Mbufs with the layout of `void *`.
        // The ring takes the first `ret` pointers.
        let ret = unsafe {
            sys::shim_ring_sp_enqueue_burst(
                self.inner.ptr.as_ptr(),
                base.cast::<*mut std::ffi::c_void>(),
                n,
                std::ptr::null_mut(),
            )
        };
        let sent = usize::try_from(ret).unwrap_or(0).min(len);
        if sent > 0 {
            // SAFETY: the first `sent` Mbufs are now owned by the ring; shift
            // the remaining initialised ones down and shrink the length so
            // no destructor runs for the moved ones (as in TxQueue::tx_burst).
            unsafe {
                std::ptr::copy(base.add(sent), base, len - sent);
                bufs.set_len(len - sent);
            }
        }
        sent
    }

    /// Mbufs currently in the ring.
    pub fn len(&self) -> usize {
        self.inner.count()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The dequeue end of an SP/SC mbuf ring.
pub struct RingConsumer {
    inner: Arc<RingInner>,
}

impl RingConsumer {
    /// Moves up to `max` (≤ 512) mbufs from the ring to the end of `out`;
    /// returns how many. Allocates only if `out` lacks `max` spare capacity.
    pub fn dequeue_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let max = max.min(MAX_BURST);
        if max == 0 {
            return 0;
        }
        out.reserve(max);
        let len = out.len();
        let spare = out.spare_capacity_mut();
        let Ok(n) = u32::try_from(max.min(spare.len())) else {
            return 0;
        };
        // SAFETY: we are the single consumer; spare has room for n pointers
        // and MaybeUninit<Mbuf> has the layout of `void *`. Every object in
        // the ring is an owned mbuf put there by the producer.
        let ret = unsafe {
            sys::shim_ring_sc_dequeue_burst(
                self.inner.ptr.as_ptr(),
                spare.as_mut_ptr().cast::<*mut std::ffi::c_void>(),
                n,
                std::ptr::null_mut(),
            )
        };
        let got = usize::try_from(ret).unwrap_or(0).min(max);
        // SAFETY: the first `got` spare slots hold non-null mbuf pointers
        // whose ownership moved from the ring to `out`.
        unsafe { out.set_len(len + got) };
        got
    }

    /// Mbufs currently in the ring.
    pub fn len(&self) -> usize {
        self.inner.count()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for RingProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingProducer({:?})", self.inner.name)
    }
}

impl fmt::Debug for RingConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingConsumer({:?})", self.inner.name)
    }
}

/// Creates an ethdev port named `name` (driver `net_ring`) whose RX queue 0 dequeues from the
/// ring behind `rx` and whose TX queue 0 enqueues into the ring behind `tx`, and returns its
/// port id. The port is then configured and started with [`crate::Port::configure`] like any
/// other; the other ends of the two rings are the caller's (e.g. a traffic generator).
///
/// The two handles are kept alive for the rest of the process (leaked), because the PMD keeps
/// raw pointers to the rings and DPDK offers no way to be told when it stops using them.
pub fn eth_from_rings(
    name: &str,
    rx: RingConsumer,
    tx: RingProducer,
    socket_id: i32,
) -> Result<u16, DpdkError> {
    let cname = CString::new(name).map_err(|_| DpdkError::Ring {
        name: name.to_string(),
        code: 0,
        msg: "name contains a NUL byte".into(),
    })?;
    let numa = u32::try_from(socket_id.max(0)).unwrap_or(0);
    // SAFETY: EAL is running (both handles hold an EalUse registration); cname is a valid
    // C string for the duration of the call; both ring pointers are live rte_rings owned by
    // the handles, which are leaked below so the rings outlive the port that uses them.
    let ret = unsafe {
        sys::shim_eth_from_rings(
            cname.as_ptr(),
            rx.inner.ptr.as_ptr(),
            tx.inner.ptr.as_ptr(),
            numa,
        )
    };
    if ret < 0 {
        let code = last_errno();
        return Err(DpdkError::Ring {
            name: name.to_string(),
            code,
            msg: strerror(code),
        });
    }
    std::mem::forget(rx);
    std::mem::forget(tx);
    u16::try_from(ret).map_err(|_| DpdkError::Ring {
        name: name.to_string(),
        code: 0,
        msg: format!("port id {ret} out of range"),
    })
}
