//! Ethernet ports: [`Port`] (configuration and control) and the per-queue
//! fast-path handles [`RxQueue`] / [`TxQueue`].
//!
//! Soundness model:
//!
//! * **One owner per port.** A process-wide claim table makes a second
//!   `Port::configure` of the same port id fail with
//!   [`DpdkError::PortBusy`] until the first `Port` (and all its queue
//!   handles) are gone.
//! * **One user per queue.** DPDK's burst functions are not thread-safe per
//!   queue. Each queue handle is handed out at most once at a time
//!   ([`Port::take_rx_queue`]), is `Send` (it can move to the worker lcore)
//!   and bursts take `&mut self`, so two threads can never poll the same
//!   queue. Returning a handle (dropping it) makes the queue takeable again.
//! * **No teardown under a poller.** Queue handles share the port state
//!   (`Arc`). [`Port::stop`] and [`Port::close`] fail while any queue handle
//!   exists, and if the `Port` itself is dropped first the port is stopped
//!   and closed when the *last* handle goes away. So a queue's memory is
//!   never released while a burst may run on it.
//! * **Mbuf ownership across bursts.** RX hands freshly received mbufs to the
//!   caller as owned [`Mbuf`]s; TX transfers the first `n` (the return value)
//!   to the driver, and those are removed from the caller's `Vec` without
//!   running their destructors. Neither burst allocates when the `Vec` has
//!   enough capacity.
//! * The RX mempool is kept alive by the port (pools are immortal anyway),
//!   and every port holds an EAL registration (see `eal.rs`).

use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::eal::{self, EalUse};
use crate::error::from_ret;
use crate::{sys, DpdkError, Mbuf, Mempool};

/// Maximum burst size handled in one call (DPDK drivers typically cap at 32
/// or 64 anyway).
pub const MAX_BURST: usize = 512;

/// RSS hash-field selection (`rte_eth_rss_conf.rss_hf`, `RTE_ETH_RSS_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RssHashFields(u64);

impl RssHashFields {
    /// No fields.
    pub const NONE: Self = Self(0);
    /// IPv4 (any).
    pub const IPV4: Self = Self(1 << 2);
    /// Fragmented IPv4.
    pub const FRAG_IPV4: Self = Self(1 << 3);
    /// Non-fragmented IPv4 TCP.
    pub const NONFRAG_IPV4_TCP: Self = Self(1 << 4);
    /// Non-fragmented IPv4 UDP.
    pub const NONFRAG_IPV4_UDP: Self = Self(1 << 5);
    /// Non-fragmented IPv4 SCTP.
    pub const NONFRAG_IPV4_SCTP: Self = Self(1 << 6);
    /// Non-fragmented IPv4, other protocols.
    pub const NONFRAG_IPV4_OTHER: Self = Self(1 << 7);
    /// IPv6 (any).
    pub const IPV6: Self = Self(1 << 8);
    /// Fragmented IPv6.
    pub const FRAG_IPV6: Self = Self(1 << 9);
    /// Non-fragmented IPv6 TCP.
    pub const NONFRAG_IPV6_TCP: Self = Self(1 << 10);
    /// Non-fragmented IPv6 UDP.
    pub const NONFRAG_IPV6_UDP: Self = Self(1 << 11);
    /// Non-fragmented IPv6 SCTP.
    pub const NONFRAG_IPV6_SCTP: Self = Self(1 << 12);
    /// Non-fragmented IPv6, other protocols.
    pub const NONFRAG_IPV6_OTHER: Self = Self(1 << 13);
    /// Modifier: hash only the L3 source address.
    pub const L3_SRC_ONLY: Self = Self(1 << 63);
    /// Modifier: hash only the L3 destination address.
    pub const L3_DST_ONLY: Self = Self(1 << 62);
    /// Modifier: hash only the L4 source port.
    pub const L4_SRC_ONLY: Self = Self(1 << 61);
    /// Modifier: hash only the L4 destination port.
    pub const L4_DST_ONLY: Self = Self(1 << 60);
    /// All IPv4 flow types.
    pub const ALL_IPV4: Self = Self(0b1111_1100);
    /// Modifier bits (they qualify protocol bits but select no packets).
    pub const MODIFIERS: Self = Self(0xFC00_0000_0000_0000);

    /// "Spread subscribers by IPv4 source address only": every IPv4 flow
    /// type, hashed on the L3 source. Drivers that cannot do source-only
    /// hashing drop the modifier (see [`Port::rss_applied`]).
    pub const IPV4_SRC_ONLY: Self = Self(Self::ALL_IPV4.0 | Self::L3_SRC_ONLY.0);

    /// From raw `RTE_ETH_RSS_*` bits.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }
    /// Raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }
    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any protocol (non-modifier) bit is set.
    pub const fn has_protocols(self) -> bool {
        self.0 & !Self::MODIFIERS.0 != 0
    }
}

impl BitOr for RssHashFields {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
impl BitOrAssign for RssHashFields {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}
impl BitAnd for RssHashFields {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}
impl Not for RssHashFields {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}
impl fmt::Debug for RssHashFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RssHashFields({:#x})", self.0)
    }
}

/// How to configure a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSetup {
    /// RX queues (≥ 1).
    pub rx_queues: u16,
    /// TX queues (≥ 1).
    pub tx_queues: u16,
    /// RX descriptors per queue (adjusted to the device limits).
    pub rx_desc: u16,
    /// TX descriptors per queue (adjusted to the device limits).
    pub tx_desc: u16,
    /// RSS hash fields wanted; masked by what the device supports.
    pub rss: Option<RssHashFields>,
    /// Enable promiscuous mode.
    pub promiscuous: bool,
    /// MTU to set (None: device default).
    pub mtu: Option<u16>,
}

impl Default for PortSetup {
    fn default() -> Self {
        PortSetup {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            rss: None,
            promiscuous: false,
            mtu: None,
        }
    }
}

/// Link state (from `rte_eth_link_get_nowait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStatus {
    /// Link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Basic port counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// RX packets dropped by the HW (RX queues full).
    pub imissed: u64,
    /// Erroneous RX packets.
    pub ierrors: u64,
    /// Failed TX packets.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// Static device facts (from `rte_eth_dev_info_get` at configure time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Driver name, e.g. `net_null`.
    pub driver_name: String,
    /// Max RX queues.
    pub max_rx_queues: u16,
    /// Max TX queues.
    pub max_tx_queues: u16,
    /// RSS hash fields the device supports.
    pub flow_type_rss_offloads: u64,
    /// Smallest settable MTU.
    pub min_mtu: u16,
    /// Largest settable MTU.
    pub max_mtu: u16,
    /// RETA size (0: no RSS redirection table).
    pub reta_size: u16,
}

/// Which ports have a live `Port` (index = port id).
static CLAIMED: [AtomicBool; sys::RTE_MAX_ETHPORTS as usize] =
    [const { AtomicBool::new(false) }; sys::RTE_MAX_ETHPORTS as usize];

/// Releases a port claim on drop (also on configure error paths).
#[derive(Debug)]
struct Claim(u16);

impl Claim {
    fn take(port: u16) -> Result<Claim, DpdkError> {
        let slot = CLAIMED
            .get(usize::from(port))
            .ok_or_else(|| not_found(port))?;
        slot.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| DpdkError::PortBusy { port })?;
        Ok(Claim(port))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(slot) = CLAIMED.get(usize::from(self.0)) {
            slot.store(false, Ordering::Release);
        }
    }
}

fn not_found(port: u16) -> DpdkError {
    DpdkError::PortNotFound {
        name: format!("port id {port}"),
        available: eal::list_ports().into_iter().map(|(_, n)| n).collect(),
    }
}

#[derive(Debug, Default)]
struct RunState {
    started: bool,
    closed: bool,
}

/// Shared by `Port` and its queue handles; the last one to go closes the
/// port.
struct PortInner {
    id: u16,
    name: String,
    rx_taken: Box<[AtomicBool]>,
    tx_taken: Box<[AtomicBool]>,
    run: Mutex<RunState>,
    // Field order = drop order: the port is closed in Drop::drop (before any
    // field is dropped), then the pool handle, the claim and the EAL
    // registration are released.
    _pool: Mempool,
    _claim: Claim,
    _eal: EalUse,
}

impl PortInner {
    fn run(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.run
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, step: &'static str, ret: i32) -> DpdkError {
        let (code, msg) = from_ret(ret);
        DpdkError::PortConfig {
            port: self.id,
            step,
            code,
            msg,
        }
    }

    fn stop_locked(&self, st: &mut RunState) -> Result<(), DpdkError> {
        if st.started && !st.closed {
            // SAFETY: the port is configured and started, owned by us (claim
            // held), the EAL is running (registration held), and no queue
            // handle exists or the last one is being dropped (callers check),
            // so no burst runs concurrently.
            let ret = unsafe { sys::rte_eth_dev_stop(self.id) };
            if ret != 0 {
                return Err(self.err("rte_eth_dev_stop", ret));
            }
            st.started = false;
        }
        Ok(())
    }

    fn close_locked(&self, st: &mut RunState) -> Result<(), DpdkError> {
        self.stop_locked(st)?;
        if !st.closed {
            // SAFETY: as for stop; the port is stopped. After this the port
            // id is not used again by this object (closed = true).
            let ret = unsafe { sys::rte_eth_dev_close(self.id) };
            st.closed = true;
            if ret != 0 {
                return Err(self.err("rte_eth_dev_close", ret));
            }
        }
        Ok(())
    }
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // Last handle: nobody can burst any more. Errors cannot be reported
        // from Drop; the port is unusable either way.
        let mut st = std::mem::take(
            self.run
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let _ = self.close_locked(&mut st);
    }
}

/// A configured ethdev port. `Send` (e.g. to a control thread), not `Sync`:
/// control operations take `&mut self` or are cheap reads.
pub struct Port {
    inner: Arc<PortInner>,
    info: PortInfo,
    mac: [u8; 6],
    rss_applied: Option<RssHashFields>,
    rx_desc: u16,
    tx_desc: u16,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl Port {
    /// Configures port `port_id`: queues (with RX buffers from `pool`),
    /// descriptors, RSS, promiscuous mode and MTU. The port is not started.
    pub fn configure(port_id: u16, cfg: &PortSetup, pool: &Mempool) -> Result<Port, DpdkError> {
        let eal_use = EalUse::acquire()?;
        // SAFETY: the EAL is running (registration held); any id is accepted.
        if unsafe { sys::rte_eth_dev_is_valid_port(port_id) } == 0 {
            return Err(not_found(port_id));
        }
        let claim = Claim::take(port_id)?;
        let name = eal::port_name(port_id).unwrap_or_else(|| format!("port{port_id}"));
        let perr = |step: &'static str, ret: i32| {
            let (code, msg) = from_ret(ret);
            DpdkError::PortConfig {
                port: port_id,
                step,
                code,
                msg,
            }
        };
        let invalid = |step: &'static str, msg: String| DpdkError::PortConfig {
            port: port_id,
            step,
            code: libc::EINVAL,
            msg,
        };

        let mut dev_info = sys::rte_eth_dev_info::default();
        // SAFETY: valid port, EAL running; dev_info is a valid out-pointer
        // to a zeroed struct of the right type.
        let ret = unsafe { sys::rte_eth_dev_info_get(port_id, &mut dev_info) };
        if ret != 0 {
            return Err(perr("rte_eth_dev_info_get", ret));
        }
        let driver_name = if dev_info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: non-null driver_name points to the driver's static
            // NUL-terminated name.
            unsafe { CStr::from_ptr(dev_info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let info = PortInfo {
            driver_name,
            max_rx_queues: dev_info.max_rx_queues,
            max_tx_queues: dev_info.max_tx_queues,
            flow_type_rss_offloads: dev_info.flow_type_rss_offloads,
            min_mtu: dev_info.min_mtu,
            max_mtu: dev_info.max_mtu,
            reta_size: dev_info.reta_size,
        };

        if cfg.rx_queues == 0 || cfg.tx_queues == 0 {
            return Err(invalid(
                "queue count",
                format!(
                    "{name}: at least one RX and one TX queue are required (got {} RX / {} TX)",
                    cfg.rx_queues, cfg.tx_queues
                ),
            ));
        }
        if cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues {
            return Err(DpdkError::TooManyQueues {
                port: port_id,
                name,
                requested_rx: cfg.rx_queues,
                requested_tx: cfg.tx_queues,
                max_rx: info.max_rx_queues,
                max_tx: info.max_tx_queues,
            });
        }
        if let Some(mtu) = cfg.mtu {
            if mtu < info.min_mtu || mtu > info.max_mtu {
                return Err(invalid(
                    "mtu",
                    format!(
                        "{name}: MTU {mtu} outside the device range {}..={}",
                        info.min_mtu, info.max_mtu
                    ),
                ));
            }
        }

        let mut conf = sys::rte_eth_conf::default();
        let mut rss_applied = None;
        if let Some(want) = cfg.rss {
            let applied = want & RssHashFields::from_bits(info.flow_type_rss_offloads);
            if applied.has_protocols() {
                conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
                conf.rx_adv_conf.rss_conf.rss_key = std::ptr::null_mut();
                conf.rx_adv_conf.rss_conf.rss_hf = applied.bits();
                rss_applied = Some(applied);
            }
        }
        if let Some(mtu) = cfg.mtu {
            conf.rxmode.mtu = u32::from(mtu);
        }

        // SAFETY: valid, claimed, unstarted port; conf is a fully initialised
        // rte_eth_conf (zeroed = all defaults) that DPDK copies.
        let ret =
            unsafe { sys::rte_eth_dev_configure(port_id, cfg.rx_queues, cfg.tx_queues, &conf) };
        if ret != 0 {
            return Err(perr("rte_eth_dev_configure", ret));
        }

        let mut rx_desc = cfg.rx_desc;
        let mut tx_desc = cfg.tx_desc;
        // SAFETY: configured port; both out-pointers are valid u16s.
        let ret =
            unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut rx_desc, &mut tx_desc) };
        if ret != 0 {
            return Err(perr("rte_eth_dev_adjust_nb_rx_tx_desc", ret));
        }

        // SAFETY: valid port; no other preconditions.
        let socket = unsafe { sys::rte_eth_dev_socket_id(port_id) };
        // SOCKET_ID_ANY (-1) is passed as its unsigned representation, as the
        // C API expects.
        let socket = u32::try_from(socket).unwrap_or(u32::MAX);
        for q in 0..cfg.rx_queues {
            // SAFETY: configured, stopped port; q < nb_rx_queues; NULL rxconf
            // selects the driver default; the pool pointer is valid forever
            // (pools are never freed) and is kept by the port anyway.
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(
                    port_id,
                    q,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if ret != 0 {
                return Err(perr("rte_eth_rx_queue_setup", ret));
            }
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: configured, stopped port; q < nb_tx_queues; NULL txconf
            // selects the driver default.
            let ret = unsafe {
                sys::rte_eth_tx_queue_setup(port_id, q, tx_desc, socket, std::ptr::null())
            };
            if ret != 0 {
                return Err(perr("rte_eth_tx_queue_setup", ret));
            }
        }

        let ret = if cfg.promiscuous {
            // SAFETY: configured port owned by us.
            unsafe { sys::rte_eth_promiscuous_enable(port_id) }
        } else {
            // SAFETY: configured port owned by us.
            unsafe { sys::rte_eth_promiscuous_disable(port_id) }
        };
        // Virtual devices without the op return -ENOTSUP; only an explicit
        // request for promiscuous mode makes that an error.
        if ret != 0 && (cfg.promiscuous || ret != -libc::ENOTSUP) {
            return Err(perr("rte_eth_promiscuous_enable/disable", ret));
        }

        let mut addr = sys::rte_ether_addr::default();
        // SAFETY: valid port; addr is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_macaddr_get(port_id, &mut addr) };
        if ret != 0 {
            return Err(perr("rte_eth_macaddr_get", ret));
        }

        let inner = PortInner {
            id: port_id,
            name,
            rx_taken: (0..cfg.rx_queues).map(|_| AtomicBool::new(false)).collect(),
            tx_taken: (0..cfg.tx_queues).map(|_| AtomicBool::new(false)).collect(),
            run: Mutex::new(RunState::default()),
            _pool: pool.clone(),
            _claim: claim,
            _eal: eal_use,
        };
        Ok(Port {
            inner: Arc::new(inner),
            info,
            mac: addr.addr_bytes,
            rss_applied,
            rx_desc,
            tx_desc,
            _not_sync: PhantomData,
        })
    }

    /// Port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// Device name (e.g. `net_ring0`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// RSS fields actually configured (requested ∩ supported), or `None` if
    /// RSS was not requested or the device supports none of the requested
    /// protocols.
    pub fn rss_applied(&self) -> Option<RssHashFields> {
        self.rss_applied
    }

    /// RX/TX descriptors per queue after adjustment to device limits.
    pub fn descriptors(&self) -> (u16, u16) {
        (self.rx_desc, self.tx_desc)
    }

    /// Device facts captured at configure time.
    pub fn info(&self) -> &PortInfo {
        &self.info
    }

    /// MAC address (read at configure time).
    pub fn mac_addr(&self) -> [u8; 6] {
        self.mac
    }

    /// Starts the port (idempotent).
    pub fn start(&mut self) -> Result<(), DpdkError> {
        let mut st = self.inner.run();
        if st.closed {
            return Err(self.closed_err("rte_eth_dev_start"));
        }
        if !st.started {
            // SAFETY: configured, claimed port with all queues set up; the EAL
            // is running (the port holds a registration).
            let ret = unsafe { sys::rte_eth_dev_start(self.inner.id) };
            if ret != 0 {
                return Err(self.inner.err("rte_eth_dev_start", ret));
            }
            st.started = true;
        }
        Ok(())
    }

    /// Stops the port (idempotent). Fails while queue handles are
    /// outstanding: workers must return them first.
    pub fn stop(&mut self) -> Result<(), DpdkError> {
        self.check_no_handles("rte_eth_dev_stop")?;
        let mut st = self.inner.run();
        self.inner.stop_locked(&mut st)
    }

    /// Stops and closes the port (idempotent; also done on drop). Fails
    /// while queue handles are outstanding.
    pub fn close(&mut self) -> Result<(), DpdkError> {
        self.check_no_handles("rte_eth_dev_close")?;
        let mut st = self.inner.run();
        self.inner.close_locked(&mut st)
    }

    /// Whether the port is started.
    pub fn is_started(&self) -> bool {
        self.inner.run().started
    }

    fn closed_err(&self, step: &'static str) -> DpdkError {
        DpdkError::PortConfig {
            port: self.inner.id,
            step,
            code: libc::ENODEV,
            msg: "port is closed".into(),
        }
    }

    fn check_no_handles(&self, step: &'static str) -> Result<(), DpdkError> {
        // We hold `&mut self`, so no new handle can be created concurrently;
        // a strong count of 1 means no RxQueue/TxQueue exists.
        let n = Arc::strong_count(&self.inner) - 1;
        if n == 0 {
            Ok(())
        } else {
            Err(DpdkError::PortConfig {
                port: self.inner.id,
                step,
                code: libc::EBUSY,
                msg: format!("{n} queue handle(s) still outstanding; drop them first"),
            })
        }
    }

    /// Link status without waiting (down if the query fails).
    pub fn link(&self) -> LinkStatus {
        if self.inner.run().closed {
            return LinkStatus::default();
        }
        let mut link = sys::rte_eth_link::default();
        // SAFETY: open port owned by us; link is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.inner.id, &mut link) };
        if ret != 0 {
            return LinkStatus::default();
        }
        let speed = link.link_speed;
        LinkStatus {
            up: u32::from(link.link_status()) == sys::RTE_ETH_LINK_UP,
            speed_mbps: if speed == u32::MAX { 0 } else { speed },
            full_duplex: u32::from(link.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        }
    }

    /// Port counters.
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        if self.inner.run().closed {
            return Err(self.closed_err("rte_eth_stats_get"));
        }
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: open port owned by us; s is a valid out-pointer. Reading
        // stats concurrently with bursts is allowed by DPDK.
        let ret = unsafe { sys::rte_eth_stats_get(self.inner.id, &mut s) };
        if ret != 0 {
            return Err(self.inner.err("rte_eth_stats_get", ret));
        }
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Resets the port counters.
    pub fn reset_stats(&self) -> Result<(), DpdkError> {
        if self.inner.run().closed {
            return Err(self.closed_err("rte_eth_stats_reset"));
        }
        // SAFETY: open port owned by us.
        let ret = unsafe { sys::rte_eth_stats_reset(self.inner.id) };
        if ret != 0 {
            return Err(self.inner.err("rte_eth_stats_reset", ret));
        }
        Ok(())
    }

    /// Number of RX queues.
    pub fn rx_queues(&self) -> u16 {
        u16::try_from(self.inner.rx_taken.len()).unwrap_or(u16::MAX)
    }

    /// Number of TX queues.
    pub fn tx_queues(&self) -> u16 {
        u16::try_from(self.inner.tx_taken.len()).unwrap_or(u16::MAX)
    }

    /// Takes the handle of RX queue `q`, or `None` if it is out of range,
    /// already taken (and not yet dropped), or the port is closed.
    pub fn take_rx_queue(&mut self, q: u16) -> Option<RxQueue> {
        if self.inner.run().closed {
            return None;
        }
        let slot = self.inner.rx_taken.get(usize::from(q))?;
        slot.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(RxQueue {
            port: self.inner.id,
            queue: q,
            inner: Arc::clone(&self.inner),
        })
    }

    /// Takes the handle of TX queue `q`, or `None` if it is out of range,
    /// already taken, or the port is closed.
    pub fn take_tx_queue(&mut self, q: u16) -> Option<TxQueue> {
        if self.inner.run().closed {
            return None;
        }
        let slot = self.inner.tx_taken.get(usize::from(q))?;
        slot.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(TxQueue {
            port: self.inner.id,
            queue: q,
            inner: Arc::clone(&self.inner),
        })
    }

    /// Like [`Port::take_rx_queue`] with an explanatory error.
    pub fn rx_queue(&mut self, q: u16) -> Result<RxQueue, DpdkError> {
        let n = self.rx_queues();
        self.take_rx_queue(q)
            .ok_or_else(|| self.queue_err("RX", q, n))
    }

    /// Like [`Port::take_tx_queue`] with an explanatory error.
    pub fn tx_queue(&mut self, q: u16) -> Result<TxQueue, DpdkError> {
        let n = self.tx_queues();
        self.take_tx_queue(q)
            .ok_or_else(|| self.queue_err("TX", q, n))
    }

    fn queue_err(&self, kind: &'static str, queue: u16, n: u16) -> DpdkError {
        DpdkError::QueueUnavailable {
            port: self.inner.id,
            kind,
            queue,
            why: if queue >= n {
                "out of range"
            } else if self.inner.run().closed {
                "on a closed port"
            } else {
                "already taken"
            },
        }
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("driver", &self.info.driver_name)
            .field("rss_applied", &self.rss_applied)
            .finish()
    }
}

/// Exclusive handle to one RX queue. Move it to the lcore that polls it.
pub struct RxQueue {
    port: u16,
    queue: u16,
    inner: Arc<PortInner>,
}

impl RxQueue {
    /// Receives up to `max` (≤ [`MAX_BURST`]) packets, appending them to
    /// `out`; returns how many. Does not allocate when `out` has `max` spare
    /// capacity (otherwise it reserves it first).
    #[inline]
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let max = max.min(MAX_BURST);
        if max == 0 {
            return 0;
        }
        out.reserve(max);
        let len = out.len();
        let spare = out.spare_capacity_mut();
        let Ok(n16) = u16::try_from(max.min(spare.len())) else {
            return 0;
        };
        // SAFETY: this handle is the only user of (port, queue) (taken once,
        // &mut self), the port cannot be stopped/closed while the handle
        // exists, and queue < nb_rx_queues. `spare` has room for n16 entries
        // and MaybeUninit<Mbuf> has the layout of `*mut rte_mbuf`. The driver
        // writes `ret` valid mbuf pointers whose ownership passes to us.
        let ret = unsafe {
            sys::shim_rx_burst(
                self.port,
                self.queue,
                spare.as_mut_ptr().cast::<*mut sys::rte_mbuf>(),
                n16,
            )
        };
        let n = usize::from(ret).min(usize::from(n16));
        // SAFETY: the first n spare slots were initialised by the driver with
        // non-null, exclusively owned mbufs (see above).
        unsafe { out.set_len(len + n) };
        n
    }

    /// Port id.
    pub fn port_id(&self) -> u16 {
        self.port
    }

    /// Queue index.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        if let Some(slot) = self.inner.rx_taken.get(usize::from(self.queue)) {
            slot.store(false, Ordering::Release);
        }
    }
}

impl fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RxQueue({}:{})", self.port, self.queue)
    }
}

/// Exclusive handle to one TX queue. Move it to the lcore that sends on it.
pub struct TxQueue {
    port: u16,
    queue: u16,
    inner: Arc<PortInner>,
}

impl TxQueue {
    /// Sends packets from the front of `bufs`; returns how many the driver
    /// accepted. Those are removed from `bufs` (now owned by DPDK, which
    /// frees them after transmission); the rest stay in `bufs` in order, for
    /// the caller to retry or drop. Never allocates.
    #[inline]
    pub fn tx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        let len = bufs.len();
        let Ok(n16) = u16::try_from(len.min(usize::from(u16::MAX))) else {
            return 0;
        };
        if n16 == 0 {
            return 0;
        }
        let base = bufs.as_mut_ptr();
        // SAFETY: exclusive user of (port, queue) (see RxQueue::rx_burst);
        // `base` points to `len >= n16` initialised Mbufs, which have the
        // layout of `*mut rte_mbuf`. The driver takes ownership of the first
        // `ret` of them and does not touch the rest.
        let ret = unsafe {
            sys::shim_tx_burst(
                self.port,
                self.queue,
                base.cast::<*mut sys::rte_mbuf>(),
                n16,
            )
        };
        let sent = usize::from(ret).min(usize::from(n16));
        if sent > 0 {
            // SAFETY: the first `sent` elements now belong to the driver: we
            // forget them by shifting the unsent tail (len - sent elements,
            // all initialised) to the front with a memmove and shrinking the
            // length, so no destructor runs for the sent ones and each unsent
            // Mbuf is still owned exactly once.
            unsafe {
                std::ptr::copy(base.add(sent), base, len - sent);
                bufs.set_len(len - sent);
            }
        }
        sent
    }

    /// Port id.
    pub fn port_id(&self) -> u16 {
        self.port
    }

    /// Queue index.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if let Some(slot) = self.inner.tx_taken.get(usize::from(self.queue)) {
            slot.store(false, Ordering::Release);
        }
    }
}

impl fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxQueue({}:{})", self.port, self.queue)
    }
}
