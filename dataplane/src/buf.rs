//! The buffer and allocator traits the dataplane is generic over.
//!
//! The dataplane never sees DPDK: the daemon implements [`PacketBuf`] for a newtype over a
//! DPDK mbuf, while tests, benches and fuzz targets use [`VecBuf`], a plain byte buffer that
//! models headroom/tailroom the same way. Dropping a buffer frees it (for mbufs: back to the
//! mempool), so "drop and count" is literally `drop(buf)` plus a counter increment.

/// One received or to-be-sent frame, contiguous, starting at the Ethernet header.
pub trait PacketBuf {
    /// The frame bytes.
    fn data(&self) -> &[u8];
    /// The frame bytes, mutable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Sets the frame length. Shrinking always works; growing works within the tailroom.
    /// Returns `false` (and changes nothing) if `len` does not fit.
    fn set_len(&mut self, len: usize) -> bool;
    /// Bytes that can still be appended after the frame.
    fn tailroom(&self) -> usize;
    /// The NIC's RSS hash, when the NIC computed one.
    fn rss_hash(&self) -> Option<u32> {
        None
    }
    /// The handoff tag a worker stored with [`Self::set_tag`] before handing the buffer to
    /// another worker (see `steer.rs`). Only meaningful on buffers read from a handoff ring.
    fn tag(&self) -> u32;
    /// Stores a handoff tag in the buffer's metadata (for mbufs: the user field of the hash
    /// union, which the RSS hash no longer needs once the frame was steered).
    fn set_tag(&mut self, tag: u32);
}

/// A source of fresh, empty buffers (a DPDK mempool in the daemon).
pub trait BufAlloc<B> {
    /// An empty buffer (length 0) with room for at least a 1514-byte frame, or `None` when
    /// the pool is exhausted.
    fn alloc(&mut self) -> Option<B>;
}

/// Room every buffer from [`VecAlloc`] has, like a 2048-byte mbuf data room.
pub const VEC_BUF_ROOM: usize = 2048;

/// A heap-backed [`PacketBuf`] for tests, benches and fuzzing.
#[derive(Clone, PartialEq, Eq)]
pub struct VecBuf {
    bytes: Vec<u8>,
    len: usize,
    tag: u32,
}

impl std::fmt::Debug for VecBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VecBuf(len={})", self.len)
    }
}

impl VecBuf {
    /// A buffer holding `frame`, with `VEC_BUF_ROOM` bytes of room (or more if the frame is larger).
    pub fn from_frame(frame: &[u8]) -> Self {
        let mut bytes = vec![0; VEC_BUF_ROOM.max(frame.len())];
        bytes[..frame.len()].copy_from_slice(frame);
        Self {
            bytes,
            len: frame.len(),
            tag: 0,
        }
    }

    /// A buffer holding `frame` with exactly `tailroom` spare bytes after it.
    pub fn with_tailroom(frame: &[u8], tailroom: usize) -> Self {
        let mut bytes = vec![0; frame.len() + tailroom];
        bytes[..frame.len()].copy_from_slice(frame);
        Self {
            bytes,
            len: frame.len(),
            tag: 0,
        }
    }

    /// An empty buffer with `VEC_BUF_ROOM` bytes of room.
    pub fn empty() -> Self {
        Self {
            bytes: vec![0; VEC_BUF_ROOM],
            len: 0,
            tag: 0,
        }
    }

    /// The frame as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes[..self.len].to_vec()
    }
}

impl PacketBuf for VecBuf {
    fn data(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
    fn set_len(&mut self, len: usize) -> bool {
        if len > self.bytes.len() {
            return false;
        }
        self.len = len;
        true
    }
    fn tailroom(&self) -> usize {
        self.bytes.len() - self.len
    }
    fn tag(&self) -> u32 {
        self.tag
    }
    fn set_tag(&mut self, tag: u32) {
        self.tag = tag;
    }
}

/// An allocator of [`VecBuf`]s with an optional limit, to test pool exhaustion.
#[derive(Debug, Default)]
pub struct VecAlloc {
    /// Remaining allocations before `alloc` returns `None`; `None` means unlimited.
    pub remaining: Option<usize>,
}

impl BufAlloc<VecBuf> for VecAlloc {
    fn alloc(&mut self) -> Option<VecBuf> {
        match &mut self.remaining {
            Some(0) => None,
            Some(n) => {
                *n -= 1;
                Some(VecBuf::empty())
            }
            None => Some(VecBuf::empty()),
        }
    }
}
