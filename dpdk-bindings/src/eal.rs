//! EAL lifecycle: [`Eal::init`] / `Drop`, lcore and port discovery.
//!
//! This module owns the process-wide EAL state, because DPDK's EAL is a
//! process singleton with two hard rules that the rest of the crate relies on:
//!
//! * `rte_eal_init` may be called **once** per process. A static `AtomicBool`
//!   turns a second call into [`DpdkError::EalAlreadyInitialized`] instead of
//!   undefined behaviour.
//! * After `rte_eal_cleanup`, every DPDK pointer (mempools, mbufs, ports,
//!   rings) dangles. Every object of this crate that points into DPDK memory
//!   registers itself as a *user* of the EAL ([`EalUse`]). Dropping the
//!   [`Eal`] calls `rte_eal_cleanup` only when there are no users left;
//!   otherwise cleanup is skipped (the OS reclaims everything at process exit,
//!   which is what DPDK applications that never call cleanup rely on too).
//!   Mempools are never freed (see `mempool.rs`), so in a process that created
//!   one, cleanup is always skipped. That is the price of a safe API.
//!
//! The thread that calls [`Eal::init`] becomes the main lcore; `Eal` is
//! neither `Send` nor `Sync` so it is dropped on that thread.
//!
//! Plugin drivers: Debian builds DPDK as shared libraries; a shared EAL
//! `dlopen`s every PMD in its driver directory
//! (`/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0`) during `rte_eal_init`,
//! including `librte_mempool_ring.so`, which `rte_pktmbuf_pool_create` needs.
//! If a pool cannot be created because the `ring_mp_mc` ops are missing, the
//! error says so (`-d librte_mempool_ring.so` forces the load).

use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{last_errno, strerror};
use crate::{sys, DpdkError};

/// Set by the first `Eal::init`, never cleared.
static INIT_ATTEMPTED: AtomicBool = AtomicBool::new(false);

/// Whether the EAL is usable, and how many live objects point into it.
struct EalState {
    running: bool,
    users: usize,
}

static STATE: Mutex<EalState> = Mutex::new(EalState {
    running: false,
    users: 0,
});

fn state() -> MutexGuard<'static, EalState> {
    // A panic while holding this lock cannot leave the two plain fields in a
    // torn state, so poisoning is ignored.
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Proof that the EAL is running, held by every object that points into DPDK
/// memory. While any `EalUse` exists, dropping [`Eal`] does not call
/// `rte_eal_cleanup`. Leaking one (as mempools do) keeps the EAL mapped for
/// the rest of the process.
#[derive(Debug)]
pub(crate) struct EalUse(());

impl EalUse {
    /// Registers a new user; fails if the EAL is not running.
    pub(crate) fn acquire() -> Result<EalUse, DpdkError> {
        let mut st = state();
        if !st.running {
            return Err(DpdkError::EalNotRunning);
        }
        st.users += 1;
        Ok(EalUse(()))
    }
}

impl Drop for EalUse {
    fn drop(&mut self) {
        let mut st = state();
        st.users = st.users.saturating_sub(1);
    }
}

/// An owned, NUL-terminated C `argv` built from Rust strings.
///
/// `rte_eal_init` takes `char **argv`, permutes the pointer array (getopt) and
/// may keep pointers to the strings, so both the strings and the array must
/// outlive the call; [`Eal::init`] leaks the `CArgv` for that reason (once per
/// process, a few hundred bytes).
#[derive(Debug)]
pub struct CArgv {
    strings: Vec<CString>,
    ptrs: Vec<*mut c_char>,
}

impl CArgv {
    /// Converts `args` (`args[0]` is the program name) to C strings. An empty
    /// list gets the program name `"dpdk"`. Fails on interior NUL bytes.
    pub fn new(args: &[String]) -> Result<CArgv, DpdkError> {
        let mut strings = Vec::with_capacity(args.len().max(1));
        if args.is_empty() {
            strings.push(CString::from(c"dpdk"));
        }
        for (index, a) in args.iter().enumerate() {
            let c = CString::new(a.as_bytes()).map_err(|_| DpdkError::InvalidArgument {
                index,
                arg: a.clone(),
                reason: "contains a NUL byte",
            })?;
            strings.push(c);
        }
        let mut ptrs: Vec<*mut c_char> = strings.iter().map(|s| s.as_ptr().cast_mut()).collect();
        ptrs.push(std::ptr::null_mut());
        Ok(CArgv { strings, ptrs })
    }

    /// Number of arguments (without the terminating NULL).
    pub fn argc(&self) -> usize {
        self.strings.len()
    }

    /// The arguments as C strings.
    pub fn args(&self) -> impl Iterator<Item = &CStr> {
        self.strings.iter().map(CString::as_c_str)
    }

    /// Pointer to the NULL-terminated pointer array. The pointers stay valid
    /// as long as `self` lives (moving a `CArgv` does not move the heap
    /// buffers of its `CString`s or of the pointer array).
    pub fn as_mut_ptr(&mut self) -> *mut *mut c_char {
        self.ptrs.as_mut_ptr()
    }
}

/// The initialised DPDK Environment Abstraction Layer.
///
/// Created once per process by [`Eal::init`]; the creating thread is the main
/// lcore. Dropping it calls `rte_eal_cleanup` if no mempool, port, ring or
/// lcore handle is alive (see the module docs).
#[derive(Debug)]
pub struct Eal {
    parsed_args: usize,
    /// `!Send + !Sync`: the EAL must be cleaned up on the main lcore thread.
    _main_thread: PhantomData<*const ()>,
}

impl Eal {
    /// Initialises the EAL with `args` (`args[0]` is the program name, then
    /// EAL options such as `-l 0-1 --no-huge -m 256 --vdev net_null0`).
    ///
    /// Errors with [`DpdkError::EalAlreadyInitialized`] on every call after
    /// the first one in a process, whatever the first one returned.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let argv = CArgv::new(args)?;
        if INIT_ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalAlreadyInitialized);
        }
        let argv: &'static mut CArgv = Box::leak(Box::new(argv));
        let argc = c_int::try_from(argv.argc()).map_err(|_| DpdkError::InvalidArgument {
            index: argv.argc(),
            arg: String::new(),
            reason: "too many arguments",
        })?;
        // SAFETY: argv points to `argc` valid NUL-terminated strings followed
        // by a NULL pointer; both the array and the strings are leaked, so
        // they outlive the call and anything EAL keeps. INIT_ATTEMPTED
        // guarantees this is the only rte_eal_init call in the process.
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let code = last_errno();
            return Err(DpdkError::EalInit {
                code,
                msg: strerror(code),
            });
        }
        // SAFETY: no preconditions; keeps the runtime-required libraries in
        // DT_NEEDED (see build.rs) and has no side effects.
        let _ = unsafe { sys::shim_link_anchor() };
        state().running = true;
        Ok(Eal {
            parsed_args: usize::try_from(ret).unwrap_or(0),
            _main_thread: PhantomData,
        })
    }

    /// How many of the arguments EAL consumed (including the program name);
    /// anything after them is for the application.
    pub fn parsed_args(&self) -> usize {
        self.parsed_args
    }

    /// The main lcore id (the thread that called `init`).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (we hold an Eal); reads immutable config.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// Enabled lcores other than the main one, in increasing order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut out = Vec::new();
        // u32::MAX is the "-1" start value documented for rte_get_next_lcore.
        let mut i = u32::MAX;
        loop {
            // SAFETY: EAL is initialised; rte_get_next_lcore only reads the
            // lcore config and accepts any start value.
            i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
            if i >= sys::RTE_MAX_LCORE {
                break;
            }
            out.push(i);
        }
        out
    }

    /// Number of enabled lcores, main included.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised; reads immutable config.
        unsafe { sys::rte_lcore_count() }
    }

    /// NUMA socket of the main lcore, as the `i32` DPDK's allocation calls
    /// take (`-1` = any socket).
    pub fn socket_id(&self) -> i32 {
        lcore_socket_id(self.main_lcore())
    }

    /// Port id of the ethdev called `name` (e.g. `"net_null0"`,
    /// `"0000:01:00.0"`). The error lists the ports that exist.
    pub fn port_by_name(&self, name: &str) -> Result<u16, DpdkError> {
        port_by_name(name)
    }

    /// All ethdev ports without an owner, as `(id, name)`.
    pub fn ports(&self) -> Vec<(u16, String)> {
        list_ports()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        let mut st = state();
        st.running = false;
        if st.users == 0 {
            // SAFETY: we are on the main lcore thread (Eal is !Send), the EAL
            // was initialised by us, and no object of this crate that points
            // into DPDK memory is alive (users == 0, checked under the lock
            // that also guards creating new users, which now fails because
            // running == false). No lcore closure is running: LcoreJoin is a
            // user and waits for its lcore when dropped.
            let _ = unsafe { sys::rte_eal_cleanup() };
        }
    }
}

/// NUMA socket of `lcore` (`-1` when unknown).
pub fn lcore_socket_id(lcore: u32) -> i32 {
    // Keeps the EAL from being cleaned up while we read its config.
    let Ok(_eal) = EalUse::acquire() else {
        return sys::SOCKET_ID_ANY;
    };
    if lcore >= sys::RTE_MAX_LCORE {
        return sys::SOCKET_ID_ANY;
    }
    // SAFETY: EAL is initialised; rte_lcore_to_socket_id indexes the lcore
    // config array without a bounds check, and lcore < RTE_MAX_LCORE here.
    let s = unsafe { sys::rte_lcore_to_socket_id(lcore) };
    i32::try_from(s).unwrap_or(sys::SOCKET_ID_ANY)
}

/// The calling thread's lcore id, or `None` for threads EAL does not know
/// (`LCORE_ID_ANY`).
pub fn lcore_id() -> Option<u32> {
    // SAFETY: reads the calling thread's TLS lcore id; no preconditions.
    let id = unsafe { sys::shim_lcore_id() };
    (id != sys::LCORE_ID_ANY).then_some(id)
}

/// Name of ethdev `port`, if it exists.
pub(crate) fn port_name(port: u16) -> Option<String> {
    let _eal = EalUse::acquire().ok()?;
    let mut buf: [c_char; sys::RTE_ETH_NAME_MAX_LEN as usize] =
        [0; sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: the EAL is running (guard held); buf is RTE_ETH_NAME_MAX_LEN
    // bytes, the size the function requires; it writes a NUL-terminated name on success and fails (without
    // writing) for unknown ports.
    let ret = unsafe { sys::rte_eth_dev_get_name_by_port(port, buf.as_mut_ptr()) };
    if ret != 0 {
        return None;
    }
    // Guarantee termination even if the driver filled the whole buffer.
    if let Some(last) = buf.last_mut() {
        *last = 0;
    }
    // SAFETY: buf is NUL-terminated (last byte forced to 0 above).
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

pub(crate) fn list_ports() -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let Ok(_eal) = EalUse::acquire() else {
        return out;
    };
    let max = u64::from(sys::RTE_MAX_ETHPORTS);
    let mut p: u64 = 0;
    while p < max {
        let Ok(start) = u16::try_from(p) else { break };
        // SAFETY: EAL is running (guard held); the function accepts any port id and returns
        // RTE_MAX_ETHPORTS when there is no further port.
        p = unsafe { sys::rte_eth_find_next_owned_by(start, u64::from(sys::RTE_ETH_DEV_NO_OWNER)) };
        if p >= max {
            break;
        }
        let Ok(id) = u16::try_from(p) else { break };
        if let Some(name) = port_name(id) {
            out.push((id, name));
        }
        p += 1;
    }
    out
}

pub(crate) fn port_by_name(name: &str) -> Result<u16, DpdkError> {
    let not_found = || DpdkError::PortNotFound {
        name: name.to_string(),
        available: list_ports().into_iter().map(|(_, n)| n).collect(),
    };
    let _eal = EalUse::acquire()?;
    let Ok(cname) = CString::new(name) else {
        return Err(not_found());
    };
    let mut id: u16 = 0;
    // SAFETY: cname is NUL-terminated and id is a valid out-pointer, both live
    // for the call; the EAL is running (guard held).
    let ret = unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
    if ret == 0 {
        Ok(id)
    } else {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::CArgv;

    #[test]
    fn argv_conversion() {
        let args: Vec<String> = ["prog", "-l", "0-1", "--no-huge"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut a = CArgv::new(&args).unwrap();
        assert_eq!(a.argc(), 4);
        let back: Vec<String> = a.args().map(|c| c.to_str().unwrap().to_string()).collect();
        assert_eq!(back, args);
        let p = a.as_mut_ptr();
        // SAFETY: the array has argc + 1 entries, the last being NULL; each
        // non-null entry is a NUL-terminated string owned by `a`.
        unsafe {
            assert!((*p.add(4)).is_null());
            assert_eq!(std::ffi::CStr::from_ptr(*p.add(2)).to_str().unwrap(), "0-1");
        }
    }

    #[test]
    fn argv_empty_gets_program_name() {
        let a = CArgv::new(&[]).unwrap();
        assert_eq!(a.argc(), 1);
    }

    #[test]
    fn argv_rejects_nul() {
        let args = vec!["prog".to_string(), "bad\0arg".to_string()];
        let err = CArgv::new(&args).unwrap_err();
        assert!(
            matches!(err, crate::DpdkError::InvalidArgument { index: 1, .. }),
            "{err}"
        );
    }
}
