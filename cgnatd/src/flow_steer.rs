//! Outside-port steering with `rte_flow`: one rule per worker and protocol (TCP, UDP) sends
//! the destination ports of that worker's port blocks to its RX queue.
//!
//! Possible when block ownership is a bit field of the port (`dataplane::steer::
//! port_mask_rules`: power-of-two `pool.block_size` and `dataplane.workers`, `pool.port_min` a
//! multiple of their product — true for the defaults). Every rule is validated first; if the
//! device refuses any of them, none is installed and the outside port is steered in software,
//! with the driver's reason in the log. ICMP and fragments never match a port rule: they
//! arrive on queue 0 and the dataplane hands them over (`handoff_outside`,
//! `handoff_fragment`). Frames the rules put on their owner's queue are counted as
//! `steer_nic_outside`.

use control::Config;
use dataplane::steer::{port_mask_rules, SteerMode};
use dpdk::{FlowL4, FlowRule, Port};
use tracing::{info, warn};

/// Installs the rules if the port takes them; returns the mode and the rules (destroy them
/// before closing the port).
pub fn outside_steering(cfg: &Config, outside: &Port) -> (SteerMode, Vec<FlowRule>) {
    let n = cfg.dataplane.workers;
    if n < 2 {
        return (SteerMode::Software, Vec::new());
    }
    let software = |why: String| {
        warn!(
            "outside steering: software handoff — {why}; return traffic is handed to the port \
             block's worker over rings (counters handoff_outside, handoff_fragment)"
        );
        (SteerMode::Software, Vec::new())
    };
    if cfg.dataplane.steering == control::SteeringMode::Software {
        return software("dataplane.steering = \"software\"".into());
    }
    let Ok(bs) = u16::try_from(cfg.pool.block_size) else {
        return software(format!("pool.block_size {} too large", cfg.pool.block_size));
    };
    let Some(rules) = port_mask_rules(cfg.pool.port_min, bs, n) else {
        return software(format!(
            "block ownership is not a bit field of the port (needs power-of-two \
             pool.block_size ({bs}) and dataplane.workers ({n}), and pool.port_min ({}) a \
             multiple of their product)",
            cfg.pool.port_min
        ));
    };
    let all = || {
        rules
            .iter()
            .flat_map(|&r| [(FlowL4::Tcp, r), (FlowL4::Udp, r)])
    };
    for (l4, (v, m, w)) in all() {
        if let Err(e) = outside.flow_validate_dst_port(l4, v, m, w) {
            return software(format!(
                "{} ({}) refuses the rte_flow rule {l4:?} dst port & {m:#06x} == {v:#06x} -> \
                 queue {w}: {e}",
                outside.name(),
                outside.info().driver_name
            ));
        }
    }
    let mut installed = Vec::with_capacity(rules.len() * 2);
    for (l4, (v, m, w)) in all() {
        match outside.flow_create_dst_port(l4, v, m, w) {
            Ok(r) => installed.push(r),
            Err(e) => {
                for r in installed {
                    let _ = r.destroy();
                }
                return software(format!(
                    "{} validated but did not install rte_flow rule {l4:?} dst port & {m:#06x} \
                     == {v:#06x} -> queue {w}: {e}",
                    outside.name()
                ));
            }
        }
    }
    info!(
        "outside steering: NIC rte_flow, {} rules on {} (TCP/UDP destination port & {:#06x} \
         -> worker queue); ICMP and fragments are handed over in software",
        installed.len(),
        outside.name(),
        rules.first().map_or(0, |r| r.1)
    );
    (SteerMode::Nic, installed)
}
