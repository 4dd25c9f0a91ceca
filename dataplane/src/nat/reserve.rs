//! Public ports for ALG expectations: reserved from the subscriber's own blocks when an FTP
//! client announces a data port (`PORT`/`EPRT`/`LPRT`), turned into a binding when the
//! expected connection arrives, released when the expectation expires or is evicted.
//!
//! The port comes from a block the subscriber already holds on this worker (or a new block on
//! its public address, paired pooling), so an inbound connection to it is steered to this
//! worker like any return traffic (`steer.rs`: the destination port's block decides).

use super::{proto_index, NatState};
use crate::bindings::Binding;
use crate::counters::DropReason;
use crate::events::WorkerEvent;
use crate::port_block::LocalBlock;

impl NatState {
    /// Reserves a free public port of protocol `proto` from the blocks of the subscriber that
    /// holds binding `b` (growing it by a block if they are full). Returns (public address,
    /// port, block); `None` when the subscriber may not have another port.
    pub fn reserve_port(
        &mut self,
        b: u32,
        proto: u8,
        now_s: u32,
    ) -> Option<(u32, u16, LocalBlock)> {
        let si = self.bindings.get(b).subscriber;
        let s = *self.subs.get(si as usize)?;
        let pi = proto_index(proto);
        let rnd = self.next_random();
        let start = u32::try_from(rnd & 0xffff_ffff).unwrap_or(0);
        let n = usize::from(s.n_blocks);
        for k in 0..n {
            let lb = s.blocks[k];
            if let Some(p) = self.blocks.alloc_port(lb, pi, start) {
                return Some((self.blocks.address(self.blocks.block_addr_index(lb)), p, lb));
            }
        }
        let lb = self.grow_subscriber(si).ok()?;
        let (public, port_start, port_end) = self.block_span(lb);
        self.events.push(WorkerEvent::BlockAllocated {
            subscriber: s.ip,
            public,
            port_start,
            port_end,
            at_s: now_s,
        });
        let p = self.blocks.alloc_port(lb, pi, start)?;
        Some((public, p, lb))
    }

    /// As [`NatState::reserve_port`] for RTP/RTCP (RTSP): an even port, and with `pair` the
    /// next (odd) port too, both from the same block (each given back separately with
    /// [`NatState::release_reserved`]).
    pub fn reserve_port_pair(
        &mut self,
        b: u32,
        proto: u8,
        pair: bool,
        now_s: u32,
    ) -> Option<(u32, u16, LocalBlock)> {
        let si = self.bindings.get(b).subscriber;
        let s = *self.subs.get(si as usize)?;
        let pi = proto_index(proto);
        let rnd = self.next_random();
        let start = u32::try_from(rnd & 0xffff_ffff).unwrap_or(0);
        let take = |blocks: &mut crate::port_block::PortBlocks, lb: LocalBlock| {
            if pair {
                blocks.alloc_port_pair(lb, pi, start)
            } else {
                blocks.alloc_port_parity(lb, pi, start, Some(false))
            }
        };
        for &lb in &s.blocks[..usize::from(s.n_blocks)] {
            if let Some(p) = take(&mut self.blocks, lb) {
                return Some((self.blocks.address(self.blocks.block_addr_index(lb)), p, lb));
            }
        }
        let lb = self.grow_subscriber(si).ok()?;
        let (public, port_start, port_end) = self.block_span(lb);
        self.events.push(WorkerEvent::BlockAllocated {
            subscriber: s.ip,
            public,
            port_start,
            port_end,
            at_s: now_s,
        });
        let p = take(&mut self.blocks, lb)?;
        Some((public, p, lb))
    }

    /// Gives back a port taken by [`NatState::reserve_port`] that no binding took over.
    pub fn release_reserved(&mut self, lb: LocalBlock, proto: u8, port: u16, now_s: u32) {
        self.release_port(lb, proto, port, now_s);
    }

    /// Creates the binding `(proto, sub_ip, in_port) <-> (pub_ip, pub_port)` on a port taken
    /// by [`NatState::reserve_port`] from block `lb` (the expected connection arrived).
    #[allow(clippy::too_many_arguments)]
    pub fn bind_reserved(
        &mut self,
        lb: LocalBlock,
        proto: u8,
        sub_ip: u32,
        in_port: u16,
        pub_ip: u32,
        pub_port: u16,
        class: u8,
        now_s: u32,
    ) -> Result<u32, DropReason> {
        let si = self.blocks.owner(lb).ok_or(DropReason::NoBinding)?;
        let b = Binding::new(sub_ip, in_port, pub_ip, pub_port, proto, si, lb);
        let idx = self
            .bindings
            .insert(b, class, now_s)
            .ok_or(DropReason::BindingTableFull)?;
        if let Some(s) = self.subs.get_mut(si as usize) {
            s.bindings += 1;
        }
        Ok(idx)
    }
}
