//! Smoke tool: initialise EAL with the given arguments, print lcores and
//! ports (driver, queues, RSS, link, MAC), configure+start each port with
//! one queue pair and report its stats after a few RX polls.
//!
//! `cargo run -p dpdk --example eal_info -- -l 0 --no-huge -m 256 --vdev net_null0`

use dpdk::{Eal, Mempool, Port, PortSetup, RssHashFields};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        args.extend(
            ["-l", "0", "--no-huge", "-m", "256", "--vdev", "net_null0"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    let eal = Eal::init(&args)?;
    println!("DPDK {} (built against)", dpdk::DPDK_VERSION);
    println!(
        "main lcore {}, workers {:?}, socket {}, tsc {} Hz",
        eal.main_lcore(),
        eal.worker_lcores(),
        eal.socket_id(),
        dpdk::tsc_hz()
    );
    let pool = Mempool::new(
        "info_pool",
        8191,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        eal.socket_id(),
    )?;
    for (id, name) in eal.ports() {
        let setup = PortSetup {
            rss: Some(RssHashFields::IPV4_SRC_ONLY),
            ..PortSetup::default()
        };
        let mut port = match Port::configure(id, &setup, &pool) {
            Ok(p) => p,
            Err(e) => {
                println!("port {id} {name}: {e}");
                continue;
            }
        };
        port.start()?;
        println!(
            "port {id} {name}: {:?} rss_applied={:?} desc={:?} link={:?} mac={:02x?}",
            port.info(),
            port.rss_applied(),
            port.descriptors(),
            port.link(),
            port.mac_addr()
        );
        let mut rxq = port.rx_queue(0)?;
        let mut rx = Vec::with_capacity(32);
        let mut got = 0;
        for _ in 0..100 {
            got += rxq.rx_burst(&mut rx, 32);
            rx.clear();
        }
        println!(
            "  received {got} packets in 100 polls; stats {:?}",
            port.stats()?
        );
    }
    println!("pool: {pool:?}");
    Ok(())
}
