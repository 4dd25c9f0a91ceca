//! Running Rust closures on EAL worker lcores: [`launch`] / [`LcoreJoin`],
//! plus TSC helpers.
//!
//! Soundness model:
//!
//! * `rte_eal_remote_launch` and `rte_eal_wait_lcore` may only be called from
//!   the main lcore; [`launch`] checks the calling thread's lcore id and
//!   [`LcoreJoin`] is `!Send`, so `wait` also happens there. Only one thread
//!   is the main lcore, so launches never race.
//! * The closure and its result live in a heap `Payload` owned by the
//!   `LcoreJoin`. The worker accesses it only between launch and the
//!   release-store of its lcore state; the main lcore reads the result only
//!   after `rte_eal_wait_lcore` observed that store (acquire), so accesses
//!   never overlap. Dropping an `LcoreJoin` without `wait` still waits (it
//!   blocks until the closure returns) before freeing the payload; leaking
//!   one with `mem::forget` leaks the payload, which is safe.
//! * A panic in the closure is caught with `catch_unwind` inside the
//!   `extern "C"` trampoline and returned as [`DpdkError::LcorePanic`]; it
//!   never unwinds into DPDK's C frames. (With `panic = "abort"`, as in the
//!   release profile, the process aborts instead.)
//! * `F: Send + 'static` and `R: Send + 'static`: the closure moves to
//!   another thread and may outlive the caller's stack frame.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::eal::{lcore_id, EalUse};
use crate::error::from_ret;
use crate::{sys, DpdkError};

type Job<R> = Box<dyn FnOnce() -> R + Send>;

struct Payload<R> {
    job: Option<Job<R>>,
    result: Option<Result<R, String>>,
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

extern "C" fn trampoline<R>(arg: *mut c_void) -> c_int {
    let payload = arg.cast::<Payload<R>>();
    // Nothing may unwind out of this function: the outer catch_unwind guards
    // against a panic while formatting / dropping the inner panic payload.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `arg` is the Payload<R> pointer passed by `launch`, which
        // stays allocated and untouched by the main lcore until
        // rte_eal_wait_lcore returns (after this function returns).
        let job = unsafe { (*payload).job.take() };
        let result = match job {
            Some(f) => match catch_unwind(AssertUnwindSafe(f)) {
                Ok(v) => Ok(v),
                Err(p) => Err(panic_message(&*p)),
            },
            None => Err("job already taken".to_string()),
        };
        // SAFETY: as above; we are the only accessor of the payload now.
        unsafe { (*payload).result = Some(result) };
    }));
    if outcome.is_err() {
        std::process::abort();
    }
    0
}

/// Handle to a closure running on a worker lcore; `wait` for its result.
/// Dropping it without `wait` blocks until the closure has finished.
pub struct LcoreJoin<R> {
    lcore: u32,
    payload: NonNull<Payload<R>>,
    done: bool,
    _eal: EalUse,
    /// `!Send`/`!Sync`: rte_eal_wait_lcore must run on the main lcore.
    _main_only: PhantomData<*const ()>,
}

impl<R> std::fmt::Debug for LcoreJoin<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LcoreJoin(lcore {})", self.lcore)
    }
}

fn lcore_err(lcore: u32, code: i32, msg: impl Into<String>) -> DpdkError {
    DpdkError::Lcore {
        lcore,
        code,
        msg: msg.into(),
    }
}

/// Runs `f` on worker lcore `lcore` (which must be enabled, not the main
/// lcore, and idle). Must be called from the main lcore thread.
pub fn launch<F, R>(lcore: u32, f: F) -> Result<LcoreJoin<R>, DpdkError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let eal = EalUse::acquire()?;
    // SAFETY: the EAL is running (registration held); reads immutable config.
    let main = unsafe { sys::rte_get_main_lcore() };
    if lcore_id() != Some(main) {
        return Err(lcore_err(
            lcore,
            libc::EPERM,
            format!("launch must be called from the main lcore ({main}) thread"),
        ));
    }
    if lcore == main {
        return Err(lcore_err(
            lcore,
            libc::EINVAL,
            "cannot launch on the main lcore",
        ));
    }
    // SAFETY: EAL running; the function bounds-checks lcore itself.
    if lcore >= sys::RTE_MAX_LCORE || unsafe { sys::rte_lcore_is_enabled(lcore) } == 0 {
        return Err(lcore_err(
            lcore,
            libc::EINVAL,
            "lcore is not enabled (check the EAL -l/--lcores list)",
        ));
    }
    let payload = Box::new(Payload::<R> {
        job: Some(Box::new(f)),
        result: None,
    });
    let payload = NonNull::from(Box::leak(payload));
    // SAFETY: we are on the main lcore (checked), lcore is an enabled worker.
    // The trampoline matches lcore_function_t and never unwinds; the payload
    // pointer stays valid until we wait for the lcore (LcoreJoin owns it).
    let ret = unsafe {
        sys::rte_eal_remote_launch(
            Some(trampoline::<R>),
            payload.as_ptr().cast::<c_void>(),
            lcore,
        )
    };
    if ret != 0 {
        // SAFETY: the launch failed, so the worker never saw the pointer; we
        // still own the Box we leaked above.
        drop(unsafe { Box::from_raw(payload.as_ptr()) });
        let (code, msg) = from_ret(ret);
        let msg = if code == libc::EBUSY {
            format!("{msg}: the lcore is still running a previous job")
        } else {
            msg
        };
        return Err(lcore_err(lcore, code, msg));
    }
    Ok(LcoreJoin {
        lcore,
        payload,
        done: false,
        _eal: eal,
        _main_only: PhantomData,
    })
}

impl<R> LcoreJoin<R> {
    /// The lcore the closure runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    fn wait_lcore(&mut self) {
        if !self.done {
            // SAFETY: we are on the main lcore (LcoreJoin is !Send and was
            // created there); the lcore was launched by us. The call returns
            // after the worker's release-store of its WAIT state, so all of
            // the trampoline's writes to the payload are visible.
            let _ = unsafe { sys::rte_eal_wait_lcore(self.lcore) };
            self.done = true;
        }
    }

    /// Blocks until the closure returns and yields its result, or
    /// [`DpdkError::LcorePanic`] if it panicked.
    pub fn wait(mut self) -> Result<R, DpdkError> {
        self.wait_lcore();
        // SAFETY: the worker finished (wait_lcore), so we are the only
        // accessor of the payload, which is still allocated (freed in Drop).
        let result = unsafe { (*self.payload.as_ptr()).result.take() };
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(msg)) => Err(DpdkError::LcorePanic {
                lcore: self.lcore,
                msg,
            }),
            None => Err(lcore_err(self.lcore, 0, "closure produced no result")),
        }
    }
}

impl<R> Drop for LcoreJoin<R> {
    fn drop(&mut self) {
        self.wait_lcore();
        // SAFETY: the worker finished; the payload came from Box::leak in
        // `launch` and is freed exactly once, here.
        drop(unsafe { Box::from_raw(self.payload.as_ptr()) });
    }
}

/// TSC frequency in Hz, as measured by EAL (0 before `Eal::init`).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a global set during EAL init; no preconditions.
    unsafe { sys::rte_get_tsc_hz() }
}

/// Current TSC value (`rdtsc`).
#[inline]
pub fn tsc_cycles() -> u64 {
    // SAFETY: executes rdtsc; no preconditions.
    unsafe { sys::shim_get_tsc_cycles() }
}
