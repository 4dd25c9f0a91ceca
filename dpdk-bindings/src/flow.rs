//! `rte_flow` rules that steer ingress IPv4 TCP/UDP by destination port (under a mask) to an
//! RX queue: how the daemon sends each worker its share of the outside port blocks.
//!
//! The rule is built in the C shim (`shim_flow_dst_port_to_queue`: pattern ETH / IPV4 /
//! TCP|UDP dst-port spec+mask, action QUEUE), validated with `rte_flow_validate` before it is
//! created, and destroyed by [`FlowRule::destroy`] or on drop. Drop rules before the port is
//! closed (the daemon keeps them in a list it clears first).

use crate::eal::EalUse;
use crate::error::DpdkError;
use crate::port::Port;
use crate::sys;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::ptr::NonNull;

/// The L4 protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowL4 {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
}

impl FlowL4 {
    fn proto(self) -> u8 {
        match self {
            FlowL4::Tcp => 6,
            FlowL4::Udp => 17,
        }
    }
}

/// An installed rule.
#[derive(Debug)]
pub struct FlowRule {
    port: u16,
    ptr: Option<NonNull<sys::rte_flow>>,
    _eal: EalUse,
}

// SAFETY: the handle is an opaque pointer owned by the ethdev layer; rte_flow functions may be
// called from any thread for a port as long as calls on one port are not concurrent (DPDK
// rte_flow.h: "thread-unsafe" unless RTE_FLOW_PORT_FLAG_... — the daemon creates and destroys
// rules from one thread only, never concurrently with another rte_flow call on that port).
unsafe impl Send for FlowRule {}

const MSG_LEN: usize = 256;

fn msg_of(buf: &[c_char; MSG_LEN]) -> String {
    // SAFETY: the shim always NUL-terminates within MSG_LEN (snprintf), and the buffer was
    // zero-initialised, so a NUL exists inside the array.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Port {
    fn flow_call(
        &self,
        l4: FlowL4,
        spec: u16,
        mask: u16,
        queue: u16,
        validate_only: bool,
    ) -> Result<Option<NonNull<sys::rte_flow>>, DpdkError> {
        let mut out: *mut sys::rte_flow = std::ptr::null_mut();
        let mut msg: [c_char; MSG_LEN] = [0; MSG_LEN];
        // SAFETY: the port is configured and owned by `self` (type invariant, EAL running);
        // `out` and `msg` are valid out-pointers for the duration of the call and `msg_len`
        // is the buffer's size.
        let ret = unsafe {
            sys::shim_flow_dst_port_to_queue(
                self.id(),
                l4.proto(),
                spec,
                mask,
                queue,
                i32::from(validate_only),
                &mut out,
                msg.as_mut_ptr(),
                MSG_LEN,
            )
        };
        if ret != 0 {
            return Err(DpdkError::Flow {
                port: self.id(),
                step: if validate_only { "validate" } else { "create" },
                msg: msg_of(&msg),
            });
        }
        Ok(NonNull::new(out))
    }

    /// Checks with `rte_flow_validate` that the device accepts "IPv4 `l4` with destination
    /// port `& mask == spec` → RX queue `queue`", installing nothing.
    pub fn flow_validate_dst_port(
        &self,
        l4: FlowL4,
        spec: u16,
        mask: u16,
        queue: u16,
    ) -> Result<(), DpdkError> {
        self.flow_call(l4, spec, mask, queue, true).map(|_| ())
    }

    /// Validates, then installs the rule.
    pub fn flow_create_dst_port(
        &self,
        l4: FlowL4,
        spec: u16,
        mask: u16,
        queue: u16,
    ) -> Result<FlowRule, DpdkError> {
        let eal = EalUse::acquire()?;
        let ptr = self.flow_call(l4, spec, mask, queue, false)?;
        if ptr.is_none() {
            return Err(DpdkError::Flow {
                port: self.id(),
                step: "create",
                msg: "the driver returned no rule handle".into(),
            });
        }
        Ok(FlowRule {
            port: self.id(),
            ptr,
            _eal: eal,
        })
    }
}

impl FlowRule {
    /// Removes the rule from the device.
    pub fn destroy(mut self) -> Result<(), DpdkError> {
        self.destroy_inner()
    }

    fn destroy_inner(&mut self) -> Result<(), DpdkError> {
        let Some(p) = self.ptr.take() else {
            return Ok(());
        };
        let mut msg: [c_char; MSG_LEN] = [0; MSG_LEN];
        // SAFETY: `p` came from rte_flow_create on `self.port` and has not been destroyed
        // (taken out of the Option exactly once); the EAL is running (`_eal` held); `msg` is a
        // valid buffer of MSG_LEN bytes.
        let ret =
            unsafe { sys::shim_flow_destroy(self.port, p.as_ptr(), msg.as_mut_ptr(), MSG_LEN) };
        if ret != 0 {
            return Err(DpdkError::Flow {
                port: self.port,
                step: "destroy",
                msg: msg_of(&msg),
            });
        }
        Ok(())
    }
}

impl Drop for FlowRule {
    fn drop(&mut self) {
        let _ = self.destroy_inner();
    }
}
