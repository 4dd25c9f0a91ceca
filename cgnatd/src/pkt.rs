//! Glue between DPDK mbufs and the dataplane's buffer traits.
//!
//! `dataplane` is generic over [`PacketBuf`]/[`BufAlloc`] and must not depend on DPDK, and
//! `dpdk` must not depend on `dataplane`, so the daemon owns these two thin newtypes.

use dataplane::{BufAlloc, PacketBuf};
use dpdk::{Mbuf, Mempool};

/// A received or generated frame in an mbuf (single segment).
#[derive(Debug)]
pub struct Pkt(pub Mbuf);

impl PacketBuf for Pkt {
    #[inline]
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    #[inline]
    fn set_len(&mut self, len: usize) -> bool {
        self.0.set_data_len(len).is_ok()
    }
    #[inline]
    fn tailroom(&self) -> usize {
        self.0.tailroom()
    }
    #[inline]
    fn rss_hash(&self) -> Option<u32> {
        self.0.rss_hash()
    }
    #[inline]
    fn tag(&self) -> u32 {
        self.0.user_tag()
    }
    #[inline]
    fn set_tag(&mut self, tag: u32) {
        self.0.set_user_tag(tag);
    }
}

/// Allocates frames from the worker's mempool.
#[derive(Debug)]
pub struct PoolAlloc(pub Mempool);

impl BufAlloc<Pkt> for PoolAlloc {
    #[inline]
    fn alloc(&mut self) -> Option<Pkt> {
        self.0.alloc().map(Pkt)
    }
}
