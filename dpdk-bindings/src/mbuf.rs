//! [`Mbuf`]: an owned `rte_mbuf` (packet buffer).
//!
//! This module owns the invariants of packet data access:
//!
//! * An `Mbuf` is the unique owner of one mbuf with reference count 1: it
//!   comes from [`crate::Mempool::alloc`], from an RX burst or ring dequeue
//!   (DPDK hands the mbuf over), or from [`Mbuf::from_raw`] whose caller
//!   promises the same. The crate never creates clones or indirect mbufs.
//!   Hence `&Mbuf` may read the data and `&mut Mbuf` may write it.
//! * `Drop` returns the mbuf (all segments) to its pool with
//!   `rte_pktmbuf_free`. Pools are never freed (see `mempool.rs`), so the pool
//!   an mbuf points to is always alive.
//! * DPDK maintains `data_off + data_len <= buf_len` for each segment, and
//!   every length change goes through this module, which keeps it, so the
//!   slices returned by [`Mbuf::data`]/[`Mbuf::data_mut`] stay inside the
//!   segment's buffer.
//! * `Mbuf` is `#[repr(transparent)]` over `NonNull<rte_mbuf>`, so
//!   `Vec<Mbuf>` storage is an `rte_mbuf *` array that burst functions can
//!   read and write directly.

use std::fmt;
use std::ptr::NonNull;

use crate::{sys, DpdkError};

/// An owned packet buffer. Dropping it frees it back to its pool.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an Mbuf is the unique owner of its rte_mbuf (see module docs), so
// moving it to another thread moves exclusive access. Freeing it from any
// thread is safe because pools use MP/MC ops (enforced by Mempool::new) and
// non-EAL threads bypass the per-lcore cache.
unsafe impl Send for Mbuf {}
// SAFETY: `&Mbuf` only permits reads of the mbuf header and data; no method
// taking `&self` mutates anything, so shared access from several threads is
// race-free.
unsafe impl Sync for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `ptr` must point to a valid, initialised `rte_mbuf` that the caller
    /// owns exclusively (reference count 1, not referenced by any other
    /// `Mbuf`, ring or queue), whose segments are direct mbufs or external
    /// buffers not written by anyone else, and whose pool was created by
    /// [`crate::Mempool::new`] (or is otherwise never freed and MP/MC-safe).
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(ptr)
    }

    /// Gives up ownership without freeing; the caller becomes responsible for
    /// the mbuf (e.g. passing it to a DPDK function that consumes it, or
    /// [`Mbuf::from_raw`] later).
    #[inline]
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    /// The raw pointer, still owned by `self`.
    #[inline]
    pub fn as_ptr(&self) -> *const sys::rte_mbuf {
        self.0.as_ptr()
    }

    #[inline]
    fn hdr(&self) -> &sys::rte_mbuf {
        // SAFETY: self.0 points to a valid mbuf that we own (type invariant);
        // shared access is fine because `&self` is held.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn hdr_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: self.0 points to a valid mbuf that we own exclusively (type invariant:
        // refcnt 1, never shared by this crate), and `&mut self` excludes other references.
        unsafe { self.0.as_mut() }
    }

    /// Data of the first segment (`data_len` bytes at `buf_addr + data_off`).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let h = self.hdr();
        // SAFETY: buf_addr is the segment buffer (non-null for any valid
        // mbuf) and DPDK's invariant data_off + data_len <= buf_len holds
        // (module docs), so the range is inside one allocation. We own the
        // mbuf, and `&self` excludes writers for the returned lifetime.
        unsafe {
            std::slice::from_raw_parts(
                h.buf_addr.cast::<u8>().add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    /// Mutable data of the first segment.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (addr, off, len) = {
            let h = self.hdr();
            (h.buf_addr.cast::<u8>(), h.data_off, h.data_len)
        };
        // SAFETY: as in `data`, the range is inside the segment buffer; we are
        // its unique owner (refcnt 1, never shared by this crate) and hold
        // `&mut self`, so no other reference to the bytes exists.
        unsafe { std::slice::from_raw_parts_mut(addr.add(usize::from(off)), usize::from(len)) }
    }

    /// Bytes of data in the first segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        usize::from(self.hdr().data_len)
    }

    /// Bytes of data in the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        usize::try_from(self.hdr().pkt_len).unwrap_or(usize::MAX)
    }

    /// Free bytes before the data in the first segment.
    #[inline]
    pub fn headroom(&self) -> usize {
        usize::from(self.hdr().data_off)
    }

    /// Free bytes after the data in the first segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let h = self.hdr();
        usize::from(h.buf_len)
            .saturating_sub(usize::from(h.data_off))
            .saturating_sub(usize::from(h.data_len))
    }

    /// Number of segments.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.hdr().nb_segs
    }

    /// Whether the packet is a single segment (so `data()` is the whole
    /// packet).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.hdr().nb_segs == 1
    }

    /// Input port id set by the driver on RX.
    #[inline]
    pub fn port(&self) -> u16 {
        self.hdr().port
    }

    /// Raw offload flags (`RTE_MBUF_F_*`).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.hdr().ol_flags
    }

    /// The RSS hash computed by the NIC, if the driver set
    /// `RTE_MBUF_F_RX_RSS_HASH`.
    #[inline]
    pub fn rss_hash(&self) -> Option<u32> {
        let h = self.hdr();
        if h.ol_flags & u64::from(sys::RTE_MBUF_F_RX_RSS_HASH) == 0 {
            return None;
        }
        // SAFETY: the union holds plain integers (any bit pattern is a valid
        // u32), and the RSS flag says the driver stored the hash there.
        Some(unsafe { h.__bindgen_anon_2.hash.rss })
    }

    /// Stores an application tag in the mbuf's hash union (`hash.usr`), overwriting the RSS
    /// hash and clearing `RTE_MBUF_F_RX_RSS_HASH` so the hash is never misread afterwards.
    /// Used to say why a frame is handed from one worker to another.
    #[inline]
    pub fn set_user_tag(&mut self, tag: u32) {
        let h = self.hdr_mut();
        h.ol_flags &= !u64::from(sys::RTE_MBUF_F_RX_RSS_HASH);
        // Writing a `Copy` field of a union is safe; the union is plain integers.
        h.__bindgen_anon_2.hash.usr = tag;
    }

    /// The tag stored by [`Self::set_user_tag`]; for an mbuf never tagged, whatever the
    /// driver left in the hash union (the RSS hash, or 0).
    #[inline]
    pub fn user_tag(&self) -> u32 {
        // SAFETY: every member of the hash union is plain integers, so any bit pattern is a
        // valid u32; `usr` overlaps the first 4 bytes like `rss` does.
        unsafe { self.hdr().__bindgen_anon_2.hash.usr }
    }

    /// Sets the length of a single-segment packet (data_len and pkt_len).
    /// Growing is allowed up to the tailroom; new bytes are whatever the
    /// buffer held. Errors for multi-segment packets or lengths that do not
    /// fit.
    pub fn set_data_len(&mut self, len: usize) -> Result<(), DpdkError> {
        let available = self.data_len() + self.tailroom();
        if !self.is_contiguous() {
            return Err(DpdkError::MbufRoom {
                op: "set_data_len (multi-segment)",
                requested: len,
                available: self.data_len(),
            });
        }
        let (Some(l16), true) = (u16::try_from(len).ok(), len <= available) else {
            return Err(DpdkError::MbufRoom {
                op: "set_data_len",
                requested: len,
                available,
            });
        };
        // SAFETY: we own the mbuf exclusively (&mut self); data_off + len <=
        // buf_len because len <= data_len + tailroom, preserving DPDK's
        // invariant; pkt_len equals data_len for a single segment.
        unsafe {
            let h = self.0.as_mut();
            h.data_len = l16;
            h.pkt_len = u32::from(l16);
        }
        Ok(())
    }

    /// Appends `n` bytes at the end of the packet (last segment) and returns
    /// them, or `None` if the last segment lacks tailroom.
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: we own the mbuf exclusively (&mut self). rte_pktmbuf_append
        // checks the tailroom of the last segment and either returns NULL
        // without changes or extends data_len/pkt_len by n and returns the
        // start of the n new bytes, which lie inside that segment's buffer.
        let p = unsafe { sys::shim_pktmbuf_append(self.0.as_ptr(), n16) };
        let p = NonNull::new(p.cast::<u8>())?;
        // SAFETY: p..p+n is inside a segment buffer we own; the returned
        // slice borrows `self` mutably, so it cannot alias another access.
        Some(unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), n) })
    }

    /// Prepends `n` bytes before the data (uses headroom) and returns them,
    /// or `None` if the headroom is too small.
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: we own the mbuf exclusively. rte_pktmbuf_prepend checks the
        // headroom and either returns NULL without changes or moves data_off
        // back by n (growing data_len/pkt_len) and returns the new start.
        let p = unsafe { sys::shim_pktmbuf_prepend(self.0.as_ptr(), n16) };
        let p = NonNull::new(p.cast::<u8>())?;
        // SAFETY: the n bytes at p are the start of our segment's data.
        Some(unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), n) })
    }

    /// Removes `n` bytes from the start of the packet (first segment).
    pub fn adj(&mut self, n: usize) -> Result<(), DpdkError> {
        let err = DpdkError::MbufRoom {
            op: "adj",
            requested: n,
            available: self.data_len(),
        };
        let n16 = u16::try_from(n).map_err(|_| err.clone())?;
        // SAFETY: we own the mbuf exclusively. rte_pktmbuf_adj fails (NULL, no
        // change) if n > data_len, else advances data_off by n.
        let p = unsafe { sys::shim_pktmbuf_adj(self.0.as_ptr(), n16) };
        if p.is_null() {
            Err(err)
        } else {
            Ok(())
        }
    }

    /// Removes `n` bytes from the end of the packet (last segment).
    pub fn trim(&mut self, n: usize) -> Result<(), DpdkError> {
        let n16 = u16::try_from(n).ok();
        let ret = match n16 {
            // SAFETY: we own the mbuf exclusively. rte_pktmbuf_trim fails (-1,
            // no change) if n exceeds the last segment's data_len, else
            // shrinks it and pkt_len.
            Some(n16) => unsafe { sys::shim_pktmbuf_trim(self.0.as_ptr(), n16) },
            None => -1,
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(DpdkError::MbufRoom {
                op: "trim",
                requested: n,
                available: self.data_len(),
            })
        }
    }
}

/// Frees every mbuf in `bufs` with one `rte_pktmbuf_free_bulk` call (cheaper
/// than dropping them one by one) and leaves `bufs` empty, keeping its
/// capacity.
pub fn free_bulk(bufs: &mut Vec<Mbuf>) {
    let len = bufs.len();
    let Ok(n) = u32::try_from(len) else {
        bufs.clear();
        return;
    };
    if n == 0 {
        return;
    }
    // SAFETY: we first set the length to 0, so the Vec no longer owns the
    // elements and nothing can drop them twice (even on unwind); the buffer
    // still holds `len` initialised, owned mbuf pointers (layout of
    // `*mut rte_mbuf`) which rte_pktmbuf_free_bulk frees, each exactly once.
    unsafe {
        bufs.set_len(0);
        sys::rte_pktmbuf_free_bulk(bufs.as_mut_ptr().cast::<*mut sys::rte_mbuf>(), n);
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (type invariant) and never use it again;
        // its pool is never freed and is MP/MC-safe, so freeing from this
        // thread is fine.
        unsafe { sys::shim_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("ptr", &self.0)
            .field("data_len", &self.data_len())
            .field("pkt_len", &self.pkt_len())
            .field("nb_segs", &self.nb_segs())
            .field("headroom", &self.headroom())
            .finish()
    }
}

// The layout facts the burst wrappers rely on.
const _: () = assert!(std::mem::size_of::<Mbuf>() == std::mem::size_of::<*mut sys::rte_mbuf>());
const _: () =
    assert!(std::mem::size_of::<Option<Mbuf>>() == std::mem::size_of::<*mut sys::rte_mbuf>());
const _: () = assert!(std::mem::size_of::<sys::rte_mbuf>() == 128);
