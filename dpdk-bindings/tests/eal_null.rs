//! End-to-end test of the safe wrappers against a real EAL with virtual
//! devices (no NIC, no hugepages). EAL can be initialised only once per
//! process, so everything runs in ONE `#[test]`, in steps.
//!
//! Devices: `net_ring0` (created without arguments it loops TX back to RX:
//! one rte_ring per queue pair) and `net_null0` (drops TX, RX returns
//! nothing unless configured otherwise).

use dpdk::{
    launch, lcore_id, tsc_cycles, tsc_hz, DpdkError, Eal, Mbuf, Mempool, Port, PortSetup, Ring,
    RssHashFields,
};

fn eal_args() -> Vec<String> {
    let prefix = format!("dpdk-bindings-test-{}", std::process::id());
    [
        "eal_null_test",
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-telemetry",
        // No shared config files (--in-memory is refused with --no-huge,
        // which implies legacy memory mode).
        "--no-shconf",
        "--file-prefix",
        &prefix,
        "--vdev",
        "net_ring0",
        "--vdev",
        "net_null0",
        "--log-level",
        "lib.eal:notice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A minimal Ethernet + IPv4 + UDP frame of `len` bytes with `seq` in the
/// payload.
fn frame(m: &mut Mbuf, len: usize, seq: u8) {
    let d = m.append(len).expect("tailroom");
    d.fill(0);
    d[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    d[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    d[12..14].copy_from_slice(&[0x08, 0x00]);
    d[14] = 0x45;
    d[len - 1] = seq;
}

#[test]
fn eal_end_to_end() {
    // --- EAL init -------------------------------------------------------
    let eal = Eal::init(&eal_args()).expect("EAL init");
    assert!(eal.parsed_args() > 1);
    assert_eq!(eal.main_lcore(), 0);
    assert_eq!(eal.worker_lcores(), vec![1]);
    assert_eq!(eal.lcore_count(), 2);
    assert_eq!(lcore_id(), Some(0), "init thread is the main lcore");
    assert!(tsc_hz() > 0);
    let t0 = tsc_cycles();
    assert!(tsc_cycles() >= t0);

    // Second init is an error, not UB.
    let again = Eal::init(&eal_args());
    assert!(
        matches!(again, Err(DpdkError::EalAlreadyInitialized)),
        "{again:?}"
    );

    // --- ports discovery ------------------------------------------------
    let ports = eal.ports();
    let names: Vec<&str> = ports.iter().map(|(_, n)| n.as_str()).collect();
    assert!(names.contains(&"net_ring0"), "{ports:?}");
    assert!(names.contains(&"net_null0"), "{ports:?}");
    let ring_id = eal.port_by_name("net_ring0").unwrap();
    let null_id = eal.port_by_name("net_null0").unwrap();
    assert_ne!(ring_id, null_id);
    match eal.port_by_name("net_nope0") {
        Err(DpdkError::PortNotFound { name, available }) => {
            assert_eq!(name, "net_nope0");
            assert!(available.iter().any(|n| n == "net_ring0"), "{available:?}");
            assert!(available.iter().any(|n| n == "net_null0"), "{available:?}");
        }
        other => panic!("expected PortNotFound, got {other:?}"),
    }

    // --- mempool and mbuf ----------------------------------------------
    let pool = Mempool::new(
        "test_pool",
        4095,
        32,
        Mempool::DEFAULT_DATA_ROOM,
        eal.socket_id(),
    )
    .expect("mempool");
    assert_eq!(pool.capacity(), 4095);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.available(), 4095);
    let dup = Mempool::new("test_pool", 127, 0, Mempool::DEFAULT_DATA_ROOM, -1);
    assert!(matches!(dup, Err(DpdkError::Mempool { .. })), "{dup:?}");
    {
        let mut bufs: Vec<Mbuf> = (0..10).map(|_| pool.alloc().expect("alloc")).collect();
        assert_eq!(pool.in_use(), 10);
        assert!(pool.alloc_bulk(&mut bufs, 6));
        assert_eq!(bufs.len(), 16);
        assert_eq!(pool.in_use(), 16);
        bufs.truncate(3);
        assert_eq!(pool.in_use(), 3);
    }
    assert_eq!(pool.in_use(), 0, "dropping Mbufs frees them");

    let mut m = pool.alloc().unwrap();
    assert_eq!(m.data_len(), 0);
    assert_eq!(m.pkt_len(), 0);
    assert_eq!(m.headroom(), 128);
    assert_eq!(m.tailroom(), 2048);
    assert!(m.is_contiguous());
    assert_eq!(m.nb_segs(), 1);
    assert_eq!(m.rss_hash(), None);
    m.append(4).unwrap().copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(m.data(), &[1, 2, 3, 4]);
    assert_eq!((m.data_len(), m.pkt_len(), m.tailroom()), (4, 4, 2044));
    m.prepend(2).unwrap().copy_from_slice(&[9, 8]);
    assert_eq!(m.data(), &[9, 8, 1, 2, 3, 4]);
    assert_eq!(m.headroom(), 126);
    assert!(m.prepend(127).is_none(), "headroom exhausted");
    assert!(m.append(2045).is_none(), "tailroom exhausted");
    m.adj(1).unwrap();
    assert_eq!(m.data(), &[8, 1, 2, 3, 4]);
    m.trim(2).unwrap();
    assert_eq!(m.data(), &[8, 1, 2]);
    assert!(m.trim(4).is_err());
    assert!(m.adj(4).is_err());
    assert_eq!(m.data(), &[8, 1, 2], "failed ops change nothing");
    m.data_mut()[0] = 7;
    assert_eq!(m.data(), &[7, 1, 2]);
    m.set_data_len(60).unwrap();
    assert_eq!((m.data_len(), m.pkt_len()), (60, 60));
    m.set_data_len(10).unwrap();
    assert_eq!((m.data_len(), m.pkt_len()), (10, 10));
    let room = m.data_len() + m.tailroom();
    assert!(m.set_data_len(room).is_ok());
    assert!(matches!(
        m.set_data_len(room + 1),
        Err(DpdkError::MbufRoom { .. })
    ));
    // into_raw / from_raw round trip keeps ownership.
    let raw = m.into_raw();
    assert_eq!(pool.in_use(), 1);
    // SAFETY: `raw` came from into_raw just above and is used once.
    let m = unsafe { Mbuf::from_raw(raw) };
    drop(m);
    assert_eq!(pool.in_use(), 0);

    // --- port configuration -------------------------------------------
    let setup = PortSetup {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 512,
        tx_desc: 512,
        rss: Some(RssHashFields::IPV4_SRC_ONLY),
        promiscuous: true,
        mtu: None,
    };
    let mut ring_port = Port::configure(ring_id, &setup, &pool).expect("configure net_ring0");
    assert!(matches!(
        Port::configure(ring_id, &setup, &pool),
        Err(DpdkError::PortBusy { .. })
    ));
    let too_many = PortSetup {
        rx_queues: 4096,
        ..setup.clone()
    };
    match Port::configure(null_id, &too_many, &pool) {
        Err(DpdkError::TooManyQueues { max_rx, name, .. }) => {
            assert_eq!(name, "net_null0");
            assert!(max_rx < 4096);
        }
        other => panic!("expected TooManyQueues, got {other:?}"),
    }
    let bad_mtu = PortSetup {
        mtu: Some(10),
        ..setup.clone()
    };
    assert!(matches!(
        Port::configure(null_id, &bad_mtu, &pool),
        Err(DpdkError::PortConfig { step: "mtu", .. })
    ));
    let null_setup = PortSetup {
        mtu: Some(9000),
        ..setup.clone()
    };
    let mut null_port = Port::configure(null_id, &null_setup, &pool).expect("configure net_null0");
    println!("ring port: {ring_port:?} info {:?}", ring_port.info());
    println!("null port: {null_port:?} info {:?}", null_port.info());
    assert_eq!(ring_port.name(), "net_ring0");
    assert_eq!(ring_port.id(), ring_id);
    assert_eq!(ring_port.info().driver_name, "net_ring");
    assert_eq!(null_port.info().driver_name, "net_null");
    // RSS: what was applied is always a subset of request ∩ support.
    for p in [&ring_port, &null_port] {
        if let Some(applied) = p.rss_applied() {
            assert!(RssHashFields::IPV4_SRC_ONLY.contains(applied));
            assert!(RssHashFields::from_bits(p.info().flow_type_rss_offloads).contains(applied));
        }
    }
    ring_port.start().unwrap();
    null_port.start().unwrap();
    assert!(ring_port.is_started());
    let link = ring_port.link();
    println!("ring link: {link:?}, mac {:02x?}", ring_port.mac_addr());
    assert!(link.up);
    // RX buffers posted by the null/ring drivers (if any) count as in use.
    let base_in_use = pool.in_use();

    // --- TX 32 on net_ring0, RX them back --------------------------------
    let mut rxq = ring_port.take_rx_queue(0).expect("rx queue 0");
    assert!(
        ring_port.take_rx_queue(0).is_none(),
        "queue handed out once"
    );
    assert!(ring_port.take_rx_queue(1).is_none(), "out of range");
    let mut txq = ring_port.take_tx_queue(0).expect("tx queue 0");
    assert!(ring_port.stop().is_err(), "cannot stop with handles out");

    let mut bufs = Vec::with_capacity(64);
    for i in 0..32u8 {
        let mut m = pool.alloc().unwrap();
        frame(&mut m, 60 + usize::from(i), i);
        bufs.push(m);
    }
    assert_eq!(pool.in_use(), base_in_use + 32);
    let cap_before = bufs.capacity();
    let sent = txq.tx_burst(&mut bufs);
    assert_eq!(sent, 32);
    assert!(bufs.is_empty());
    assert_eq!(bufs.capacity(), cap_before, "tx_burst does not reallocate");
    // The ring PMD holds the mbufs, still in use.
    assert_eq!(pool.in_use(), base_in_use + 32);

    let mut rx = Vec::with_capacity(64);
    let cap_before = rx.capacity();
    let mut got = 0;
    for _ in 0..10 {
        got += rxq.rx_burst(&mut rx, 64 - got);
        if got == 32 {
            break;
        }
    }
    assert_eq!(got, 32, "net_ring0 loops TX back to RX");
    assert_eq!(rx.capacity(), cap_before, "rx_burst does not reallocate");
    for (i, m) in rx.iter().enumerate() {
        assert_eq!(m.data_len(), 60 + i);
        assert_eq!(*m.data().last().unwrap(), u8::try_from(i).unwrap());
        assert_eq!(&m.data()[12..14], &[0x08, 0x00]);
    }
    let bytes: u64 = (0..32u64).map(|i| 60 + i).sum();
    let st = ring_port.stats().unwrap();
    println!("ring stats: {st:?}");
    assert_eq!(st.opackets, 32);
    assert_eq!(st.ipackets, 32);
    assert_eq!(st.oerrors, 0);
    if st.obytes != 0 {
        assert_eq!(st.obytes, bytes);
        assert_eq!(st.ibytes, bytes);
    }
    drop(rx);
    assert_eq!(pool.in_use(), base_in_use);

    // --- TX ownership with a partial send: fill the ring (1024 slots) -----
    let mut bufs = Vec::with_capacity(1100);
    assert!(pool.alloc_bulk(&mut bufs, 1100));
    for m in bufs.iter_mut() {
        m.append(64).unwrap().fill(0xab);
    }
    let first = bufs[0].as_ptr();
    let mut total = 0;
    loop {
        let n = txq.tx_burst(&mut bufs);
        total += n;
        if n == 0 {
            break;
        }
    }
    println!("ring accepted {total} of 1100");
    assert!(total < 1100, "ring must fill up");
    assert_eq!(bufs.len(), 1100 - total, "unsent stay in the Vec");
    assert_ne!(bufs[0].as_ptr(), first);
    assert_eq!(pool.in_use(), base_in_use + 1100);
    let cap = bufs.capacity();
    dpdk::free_bulk(&mut bufs); // frees the unsent ones
    assert!(bufs.is_empty());
    assert_eq!(bufs.capacity(), cap);
    assert_eq!(pool.in_use(), base_in_use + total);
    let mut rx = Vec::with_capacity(64);
    let mut drained = 0;
    loop {
        let n = rxq.rx_burst(&mut rx, 64);
        if n == 0 {
            break;
        }
        drained += n;
        rx.clear();
    }
    assert_eq!(drained, total);
    assert_eq!(pool.in_use(), base_in_use);

    // --- net_null0: TX is accepted and freed ------------------------------
    let mut ntx = null_port.take_tx_queue(0).unwrap();
    let mut bufs = Vec::with_capacity(32);
    assert!(pool.alloc_bulk(&mut bufs, 32));
    for m in bufs.iter_mut() {
        frame(m, 64, 0);
    }
    assert_eq!(ntx.tx_burst(&mut bufs), 32);
    assert_eq!(null_port.stats().unwrap().opackets, 32);
    drop(ntx);

    // --- lcore launch ------------------------------------------------------
    // Move the ring port's queues to lcore 1, loop a burst there, return it.
    let pool2 = pool.clone();
    let job = launch(1, move || {
        let me = lcore_id();
        let mut bufs = Vec::with_capacity(8);
        assert!(pool2.alloc_bulk(&mut bufs, 8));
        for (i, m) in bufs.iter_mut().enumerate() {
            frame(m, 100, u8::try_from(i).unwrap());
        }
        let sent = txq.tx_burst(&mut bufs);
        let mut rx = Vec::with_capacity(8);
        let got = rxq.rx_burst(&mut rx, 8);
        (me, sent, got, txq, rxq)
    })
    .expect("launch on lcore 1");
    assert_eq!(job.lcore(), 1);
    let (me, sent, got, txq, rxq) = job.wait().expect("lcore result");
    assert_eq!((me, sent, got), (Some(1), 8, 8));

    // Launch errors: main lcore, disabled lcore, panics are reported.
    assert!(matches!(launch(0, || 1), Err(DpdkError::Lcore { .. })));
    assert!(matches!(launch(5, || 1), Err(DpdkError::Lcore { .. })));
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // keep the expected panic quiet
    let res = launch(1, || -> u32 { panic!("boom on purpose") })
        .unwrap()
        .wait();
    std::panic::set_hook(default_hook);
    match res {
        Err(DpdkError::LcorePanic { lcore: 1, msg }) => assert!(msg.contains("boom")),
        other => panic!("expected LcorePanic, got {other:?}"),
    }
    // The lcore is reusable after a panic; dropping a join waits.
    let j = launch(1, || 42u64).unwrap();
    drop(j);
    assert_eq!(launch(1, || 7).unwrap().wait().unwrap(), 7);
    // Launching from a non-main thread is refused.
    let from_thread = std::thread::spawn(|| launch(1, || 0).map(|_| ()).unwrap_err())
        .join()
        .unwrap();
    assert!(
        matches!(from_thread, DpdkError::Lcore { .. }),
        "{from_thread}"
    );

    // --- SP/SC ring between threads ---------------------------------------
    let (mut prod, mut cons) = Ring::new("test_ring", 256, -1).unwrap();
    let mut bufs = Vec::with_capacity(300);
    assert!(pool.alloc_bulk(&mut bufs, 300));
    assert_eq!(prod.enqueue_burst(&mut bufs), 256.min(dpdk::MAX_BURST));
    assert_eq!(bufs.len(), 44);
    assert_eq!(prod.enqueue_burst(&mut bufs), 0, "ring full");
    drop(bufs);
    let consumer = launch(1, move || {
        let mut out = Vec::with_capacity(64);
        let mut n = 0;
        loop {
            let k = cons.dequeue_burst(&mut out, 64);
            if k == 0 {
                break;
            }
            n += k;
            out.clear();
        }
        (n, cons)
    })
    .unwrap();
    let (n, cons) = consumer.wait().unwrap();
    assert_eq!(n, 256);
    let mut bufs = Vec::with_capacity(5);
    assert!(pool.alloc_bulk(&mut bufs, 5));
    assert_eq!(prod.enqueue_burst(&mut bufs), 5);
    drop(prod);
    drop(cons); // last end frees the 5 left in the ring
    assert_eq!(pool.in_use(), base_in_use);

    // --- stop / close ------------------------------------------------------
    drop(rxq);
    drop(txq);
    ring_port.stop().unwrap();
    assert!(!ring_port.is_started());
    ring_port.close().unwrap();
    ring_port.close().unwrap(); // idempotent
    assert!(ring_port.stats().is_err());
    assert!(
        ring_port.take_rx_queue(0).is_none(),
        "no queues on a closed port"
    );
    assert!(matches!(
        ring_port.tx_queue(0),
        Err(DpdkError::QueueUnavailable { .. })
    ));
    drop(ring_port);
    drop(null_port);
    let left = eal.ports();
    println!("ports after close: {left:?}");
    assert_eq!(pool.in_use(), 0, "closing ports released their RX buffers");

    drop(eal);
    // After the Eal is gone nothing new can be created.
    assert!(matches!(
        Mempool::new("late", 63, 0, 2176, -1),
        Err(DpdkError::EalNotRunning)
    ));
    // EAL leaves its (empty, thanks to --no-shconf) runtime directory.
    let _ = std::fs::remove_dir(format!(
        "/var/run/dpdk/dpdk-bindings-test-{}",
        std::process::id()
    ));
}
