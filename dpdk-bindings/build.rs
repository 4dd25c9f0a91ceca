//! Build script for the `dpdk` crate.
//!
//! It owns everything the crate needs from the system DPDK at build time:
//!
//! 1. Locate `libdpdk` (>= 22.11) with pkg-config, failing with a message that
//!    names the package to install.
//! 2. Generate Rust bindings for the parts of the DPDK API the crate uses with
//!    bindgen (allowlisted; the result goes to `$OUT_DIR/bindings.rs`).
//! 3. Compile `src/shim.c`, which turns DPDK's hot `static inline` functions
//!    (burst RX/TX, mbuf alloc/free, per-lcore `rte_errno`, TSC, ...) into real
//!    symbols Rust can call.
//! 4. Emit the link flags. Debian's `libdpdk.pc` links with
//!    `-Wl,--as-needed`, and rustc also passes `--as-needed` (the `as-needed`
//!    link modifier is nightly-only, and `rustc-link-arg` lands after the
//!    libraries), so a library none of whose symbols is referenced from a
//!    *live* section is dropped from `DT_NEEDED`. The required libraries
//!    (ethdev, net, mbuf, mempool, ring, eal) are kept by
//!    `shim_link_anchor()` in `src/shim.c`, which references one symbol of
//!    each and is called from `Eal::init`. The PMDs (including
//!    `mempool_ring`) are plugins that a shared-library EAL loads itself from
//!    its driver directory at `rte_eal_init` time; see `src/eal.rs`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const MIN_VERSION: &str = "22.11";

/// Libraries that must be in DT_NEEDED (kept there by `shim_link_anchor`).
const REQUIRED_LIBS: &[&str] = &[
    "rte_ethdev",
    "rte_net",
    "rte_mbuf",
    "rte_mempool",
    "rte_ring",
    "rte_eal",
    "rte_kvargs",
    "rte_telemetry",
];

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    // `panic!` in a build script shows the message in cargo's output.
    panic!("{msg}");
}

fn pkg_config_bin() -> String {
    env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string())
}

/// Raw `pkg-config --cflags libdpdk`, split on whitespace. The pkg-config
/// crate drops `-include rte_config.h` and `-march=...`, both of which DPDK's
/// headers require, so we ask the binary directly.
fn raw_cflags() -> Vec<String> {
    let out = Command::new(pkg_config_bin())
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| {
            fail(&format!(
                "could not run pkg-config ({e}): install it with 'apt-get install pkg-config libdpdk-dev' (Debian/Ubuntu)"
            ))
        });
    if !out.status.success() {
        fail(&format!(
            "libdpdk not found by pkg-config: install it with 'apt-get install libdpdk-dev pkg-config' (Debian/Ubuntu); pkg-config said: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");

    // 1. Locate DPDK. cargo_metadata(false): we emit the link lines ourselves.
    let lib = match pkg_config::Config::new()
        .atleast_version(MIN_VERSION)
        .cargo_metadata(false)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => fail(&format!(
            "libdpdk (>= {MIN_VERSION}) not found by pkg-config: install it with \
             'apt-get install libdpdk-dev pkg-config' (Debian/Ubuntu) or set PKG_CONFIG_PATH \
             to the directory holding libdpdk.pc. pkg-config said: {e}"
        )),
    };
    let cflags = raw_cflags();

    // 2. Link flags.
    for path in &lib.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
    for required in REQUIRED_LIBS {
        if !lib.libs.iter().any(|l| l == required) {
            fail(&format!(
                "libdpdk {} does not list lib{required}; this crate needs it",
                lib.version
            ));
        }
    }
    for l in &lib.libs {
        println!("cargo:rustc-link-lib=dylib={l}");
    }
    // The net_ring PMD is a plugin, not in libdpdk.pc, but `rte_eth_from_rings` (ring-backed
    // ethdev ports for the built-in traffic generator) lives in it.
    println!("cargo:rustc-link-lib=dylib=rte_net_ring");
    // Metadata for dependents (`links = "rte_eal"` -> DEP_RTE_EAL_*).
    println!("cargo:version={}", lib.version);
    if let Some(inc) = lib.include_paths.first() {
        println!("cargo:include={}", inc.display());
    }
    println!("cargo:rustc-env=DPDK_PKG_VERSION={}", lib.version);

    // 3. The C shim.
    let mut build = cc::Build::new();
    build.file("src/shim.c").include("src");
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(h) = it.next() {
                build.flag("-include").flag(h);
            }
        } else if let Some(p) = f.strip_prefix("-I") {
            build.include(p);
        } else if f.starts_with("-march") || f.starts_with("-m") || f.starts_with("-D") {
            build.flag(f);
        }
    }
    build
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(true)
        .opt_level(3)
        .compile("dpdk_shim");

    // 4. Bindings.
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR not set")));
    let mut clang_args: Vec<String> = Vec::new();
    let mut it = cflags.iter();
    while let Some(f) = it.next() {
        if f == "-include" {
            if let Some(h) = it.next() {
                clang_args.push("-include".into());
                clang_args.push(h.clone());
            }
        } else if f.starts_with("-I") || f.starts_with("-D") || f.starts_with("-m") {
            clang_args.push(f.clone());
        }
    }
    clang_args.push("-Isrc".into());

    let bindings = bindgen::Builder::default()
        .header("src/shim.h")
        .clang_args(&clang_args)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .use_core()
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate_inline_functions(false)
        // Functions.
        .allowlist_function("shim_.*")
        .allowlist_function("rte_eal_(init|cleanup|remote_launch|wait_lcore|mp_wait_lcore|get_lcore_state|process_type|has_hugepages)")
        .allowlist_function("rte_get_main_lcore|rte_get_next_lcore|rte_lcore_count|rte_lcore_is_enabled|rte_lcore_to_socket_id|rte_socket_id")
        .allowlist_function("rte_strerror|rte_get_tsc_hz|rte_version")
        .allowlist_function("rte_pktmbuf_pool_create|rte_pktmbuf_free_bulk")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count|lookup)")
        .allowlist_function("rte_ring_(create|free|lookup)")
        .allowlist_function("rte_eth_dev_(configure|start|stop|close|info_get|socket_id|is_valid_port|get_port_by_name|get_name_by_port|adjust_nb_rx_tx_desc|set_mtu|get_mtu|count_avail)")
        .allowlist_function("rte_eth_(rx_queue_setup|tx_queue_setup|stats_get|stats_reset|link_get_nowait|macaddr_get|promiscuous_enable|promiscuous_disable|promiscuous_get|find_next_owned_by)")
        // Types used directly by the wrappers.
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring|rte_eth_conf|rte_eth_dev_info|rte_eth_rxconf|rte_eth_txconf|rte_eth_stats|rte_eth_link|rte_ether_addr|rte_eth_rss_conf")
        .allowlist_var("RTE_MAX_ETHPORTS|RTE_MAX_LCORE|RTE_MAX_QUEUES_PER_PORT|RTE_ETH_NAME_MAX_LEN|RTE_PKTMBUF_HEADROOM|RTE_MBUF_DEFAULT_BUF_SIZE|RTE_MEMPOOL_NAMESIZE|RTE_RING_NAMESIZE|SOCKET_ID_ANY|LCORE_ID_ANY|RTE_ETH_DEV_NO_OWNER|RING_F_SP_ENQ|RING_F_SC_DEQ|RING_F_EXACT_SZ|RTE_MBUF_F_RX_RSS_HASH|RTE_ETH_LINK_.*|RTE_ETH_MQ_.*|RTE_ETHER_ADDR_LEN")
        .generate()
        .unwrap_or_else(|e| {
            fail(&format!(
                "bindgen failed on DPDK headers ({e}); is libclang installed ('apt-get install libclang-dev')?"
            ))
        });
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("writing bindings.rs: {e}")));
}
