//! Fuzz target: the daemon-side config checks. Text that `control` accepts (parser and
//! validator, as in the `config` target) goes through `cgnatd`'s `worker_config` for every
//! worker, as at start-up and on SIGHUP: it must either build each worker's configuration or
//! refuse with one clear line naming the key, never panic. `cgnatd` is a binary crate, so its
//! `convert.rs` is compiled into this target as a module (it depends only on `control` and
//! `dataplane`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../cgnatd/src/convert.rs"]
#[allow(dead_code)]
mod convert;

fuzz_target!(|data: &[u8]| {
    let Some(cfg) = control::fuzz_harness::config(data) else {
        return;
    };
    let workers = cfg.dataplane.workers.clamp(1, 4);
    for id in 0..workers {
        match convert::worker_config(&cfg, id, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 7) {
            Ok(wc) => {
                assert_eq!(wc.worker_id, id);
                assert!(!wc.pool.is_empty(), "a worker without pool addresses: {cfg:?}");
                assert!(wc.block_size > 0 && wc.port_min <= wc.port_max);
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains('.') && !msg.contains(['\n', '\r']), "{msg:?}");
            }
        }
    }
});
