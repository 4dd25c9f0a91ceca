//! Packet-buffer pools: [`Mempool`] wraps an `rte_mempool` created by
//! `rte_pktmbuf_pool_create`.
//!
//! Ownership design (why this is sound):
//!
//! * An [`crate::Mbuf`] is a bare pointer (8 bytes, `#[repr(transparent)]`)
//!   so it can be handed to and from DPDK burst functions without copying; it
//!   carries no reference to its pool. Freeing a pool while any of its mbufs
//!   exists (in a Vec, in a NIC ring, in an `rte_ring`, on another lcore)
//!   would be a use-after-free that the type system cannot see, and even
//!   `in_use() == 0` cannot prove the absence of a concurrent
//!   `rte_pktmbuf_free` on another lcore (DPDK bumps the cache length before
//!   it copies the pointer in).
//! * Therefore **pools are never freed**: dropping the last `Mempool` handle
//!   leaks the pool, which lives until the process exits. A daemon creates its
//!   pools once at start-up, so nothing is lost. (`Eal`'s drop then skips
//!   `rte_eal_cleanup`, see `eal.rs`.)
//! * `Mempool` is a cheap `Clone` handle (an `Arc`), `Send + Sync`: pools are
//!   created with DPDK's default ops (`ring_mp_mc`, multi-producer /
//!   multi-consumer), and `new` rejects pools whose ops are single-producer or
//!   single-consumer, so `alloc`/free from any thread is safe. EAL threads use
//!   their per-lcore cache; other threads (lcore id `LCORE_ID_ANY`) bypass it.

use std::ffi::{CStr, CString};
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::EalUse;
use crate::error::{last_errno, strerror};
use crate::{sys, DpdkError, Mbuf};

/// A pool of packet buffers (`rte_mempool` of `rte_mbuf`). Never freed: see
/// the module documentation.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    ptr: NonNull<sys::rte_mempool>,
    name: String,
    data_room: u16,
}

// SAFETY: the pointer refers to a pool that is never freed (leaked for the
// process lifetime), whose ops are multi-producer/multi-consumer (checked in
// `Mempool::new`), so alloc, free and the count functions may be called from
// any thread concurrently. The Rust-side fields are immutable.
unsafe impl Send for PoolInner {}
// SAFETY: see `Send`; all methods take `&self` and go through MT-safe DPDK
// calls.
unsafe impl Sync for PoolInner {}

/// Mempool ops that are not safe for concurrent use from several threads.
const UNSAFE_OPS: &[&str] = &["ring_sp_sc", "ring_mp_sc", "ring_sp_mc"];

impl Mempool {
    /// DPDK's default mbuf data room: 2048 bytes of packet + 128 of headroom.
    pub const DEFAULT_DATA_ROOM: u16 = 2048 + 128;

    /// Creates a pool of `n_mbufs` packet buffers with a per-lcore cache of
    /// `cache_size` (≤ 512 and ≤ n/1.5), each with `data_room_size` bytes of
    /// buffer (including `RTE_PKTMBUF_HEADROOM`), on NUMA `socket_id` (`-1`:
    /// any). `name` must be unique in the process and short (≤ 25 bytes).
    pub fn new(
        name: &str,
        n_mbufs: u32,
        cache_size: u32,
        data_room_size: u16,
        socket_id: i32,
    ) -> Result<Mempool, DpdkError> {
        let err = |code: i32, msg: String| DpdkError::Mempool {
            name: name.to_string(),
            code,
            msg,
        };
        let cname = CString::new(name).map_err(|_| err(0, "name contains a NUL byte".into()))?;
        if u32::from(data_room_size) < sys::RTE_PKTMBUF_HEADROOM {
            return Err(err(
                libc::EINVAL,
                format!(
                    "data_room_size {data_room_size} is smaller than the mbuf headroom ({})",
                    sys::RTE_PKTMBUF_HEADROOM
                ),
            ));
        }
        let eal = EalUse::acquire()?;
        // SAFETY: the EAL is running (guard held); cname is a valid
        // NUL-terminated string for the duration of the call; the numeric
        // arguments are range-checked by DPDK, which reports errors via a
        // NULL return and rte_errno.
        let mp = unsafe {
            sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n_mbufs,
                cache_size,
                0,
                data_room_size,
                socket_id,
            )
        };
        let Some(ptr) = NonNull::new(mp) else {
            let code = last_errno();
            let mut msg = strerror(code);
            if code == libc::EINVAL || code == libc::ENOENT {
                msg.push_str(
                    " (check n_mbufs/cache_size; if the mempool ops are missing, the \
                     mempool_ring driver was not loaded: pass '-d librte_mempool_ring.so' to EAL)",
                );
            }
            return Err(err(code, msg));
        };
        // The pool exists now and will never be freed: its EAL registration
        // is never released either (see module docs).
        std::mem::forget(eal);
        // SAFETY: ptr is a valid pool just returned by DPDK; the returned name
        // is a NUL-terminated array inside the (immortal) ops table.
        let ops = unsafe { CStr::from_ptr(sys::shim_mempool_ops_name(ptr.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        if UNSAFE_OPS.contains(&ops.as_str()) {
            return Err(err(
                libc::EINVAL,
                format!("mempool ops {ops:?} are not thread-safe; this crate requires MP/MC ops"),
            ));
        }
        Ok(Mempool {
            inner: Arc::new(PoolInner {
                ptr,
                name: name.to_string(),
                data_room: data_room_size,
            }),
        })
    }

    /// Allocates one mbuf (reset, `data_len == 0`, default headroom), or
    /// `None` if the pool is exhausted.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid forever and MP/MC-safe (see the
        // Send/Sync impls); rte_pktmbuf_alloc returns NULL or an mbuf that
        // nobody else references, which we take ownership of.
        let m = unsafe { sys::shim_pktmbuf_alloc(self.inner.ptr.as_ptr()) };
        // SAFETY: a non-null result is a freshly allocated, exclusively owned
        // mbuf from this pool.
        NonNull::new(m).map(|p| unsafe { Mbuf::from_raw(p) })
    }

    /// Allocates exactly `n` mbufs and appends them to `out`, or none at all
    /// (returns `false`) if the pool cannot supply `n`. Does not allocate
    /// heap memory when `out` has `n` spare capacity.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> bool {
        let Ok(count) = u32::try_from(n) else {
            return false;
        };
        out.reserve(n);
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` has room for at least n pointers (reserved above);
        // MaybeUninit<Mbuf> has the layout of `*mut rte_mbuf`
        // (Mbuf is repr(transparent) over NonNull). The pool is valid and
        // MP/MC-safe. On success DPDK writes n valid, exclusively owned
        // mbuf pointers; on failure it writes nothing we keep.
        let ret = unsafe {
            sys::shim_pktmbuf_alloc_bulk(
                self.inner.ptr.as_ptr(),
                spare.as_mut_ptr().cast::<*mut sys::rte_mbuf>(),
                count,
            )
        };
        if ret != 0 {
            return false;
        }
        let len = out.len();
        // SAFETY: the n slots after len were initialised with non-null owned
        // mbuf pointers by rte_pktmbuf_alloc_bulk (ret == 0).
        unsafe { out.set_len(len + n) };
        true
    }

    /// Number of free mbufs (in the pool ring and the per-lcore caches).
    pub fn available(&self) -> usize {
        // SAFETY: valid pool; rte_mempool_avail_count only reads counters.
        let n = unsafe { sys::rte_mempool_avail_count(self.inner.ptr.as_ptr()) };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Number of mbufs currently allocated (owned by the app or by drivers,
    /// e.g. posted in RX rings).
    pub fn in_use(&self) -> usize {
        // SAFETY: valid pool; rte_mempool_in_use_count only reads counters.
        let n = unsafe { sys::rte_mempool_in_use_count(self.inner.ptr.as_ptr()) };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Total number of mbufs in the pool.
    pub fn capacity(&self) -> usize {
        // SAFETY: valid pool; reads the immutable `size` field.
        let n = unsafe { sys::shim_mempool_size(self.inner.ptr.as_ptr()) };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The data room size each mbuf was created with.
    pub fn data_room_size(&self) -> u16 {
        self.inner.data_room
    }

    /// Raw pool pointer (valid for the process lifetime).
    pub fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.inner.ptr.as_ptr()
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.inner.name)
            .field("capacity", &self.capacity())
            .field("available", &self.available())
            .finish()
    }
}
