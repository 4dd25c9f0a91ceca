//! Packet scenario tests: the dataplane driven through in-memory buffers, with exact expected
//! frames built independently by etherparse. One test per behaviour, named after it.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use dataplane::{DropReason, Event, Side, WorkerConfig};

#[test]
fn udp_out_and_back_exact_frames() {
    let mut h = Harness::lab();
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"query"),
        )
        .only_outside();
    let (pub_ip, pub_port) = src_of(&out);
    assert!(in_pool(pub_ip), "source {pub_ip:?} not in pool");
    assert!(pub_port >= 1024);
    let expected = udp(OUT_MAC, NH_MAC, pub_ip, pub_port, SERVER, 53, 63, b"query");
    assert_eq!(out, expected, "translated frame differs");
    assert_checksums_ok(&out);

    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pub_ip, pub_port, 60, b"answer"),
        )
        .only_inside();
    assert_eq!(
        back,
        udp(IN_MAC, SUB_MAC, SERVER, 53, SUB1, 5000, 59, b"answer")
    );
    assert_checksums_ok(&back);
    assert_eq!(h.w.counters().event(Event::NatOut), 1);
    assert_eq!(h.w.counters().event(Event::NatIn), 1);
    assert_eq!(h.w.counters().total_drops(), 0);
}

#[test]
fn tcp_out_and_back_exact_frames() {
    let mut h = Harness::lab();
    let out = h
        .send(
            Side::Inside,
            &tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, true, b""),
        )
        .only_outside();
    let (pub_ip, pub_port) = src_of(&out);
    assert!(in_pool(pub_ip));
    assert_eq!(
        out,
        tcp(OUT_MAC, NH_MAC, pub_ip, pub_port, SERVER, 80, 63, true, b"")
    );
    assert_checksums_ok(&out);
    let back = h
        .send(
            Side::Outside,
            &tcp(
                NH_MAC,
                OUT_MAC,
                SERVER,
                80,
                pub_ip,
                pub_port,
                64,
                false,
                b"HTTP/1.1 200 OK\r\n",
            ),
        )
        .only_inside();
    assert_eq!(
        back,
        tcp(
            IN_MAC,
            SUB_MAC,
            SERVER,
            80,
            SUB1,
            40000,
            63,
            false,
            b"HTTP/1.1 200 OK\r\n"
        )
    );
    assert_checksums_ok(&back);
}

#[test]
fn icmp_echo_out_and_back_exact_frames() {
    let mut h = Harness::lab();
    let out = h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, SUB1, SERVER, 64, true, 0x1234, 1),
        )
        .only_outside();
    let pub_ip = [out[26], out[27], out[28], out[29]];
    let id = u16::from_be_bytes([out[38], out[39]]);
    assert!(in_pool(pub_ip));
    assert_eq!(out, echo(OUT_MAC, NH_MAC, pub_ip, SERVER, 63, true, id, 1));
    assert_checksums_ok(&out);
    let back = h
        .send(
            Side::Outside,
            &echo(NH_MAC, OUT_MAC, SERVER, pub_ip, 64, false, id, 1),
        )
        .only_inside();
    assert_eq!(
        back,
        echo(IN_MAC, SUB_MAC, SERVER, SUB1, 63, false, 0x1234, 1)
    );
    assert_checksums_ok(&back);
}

#[test]
fn udp_zero_checksum_stays_zero() {
    let mut h = Harness::lab();
    let mut f = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"nocsum");
    f[40] = 0;
    f[41] = 0;
    let out = h.send(Side::Inside, &f).only_outside();
    assert_eq!(&out[40..42], &[0, 0]);
}

#[test]
fn rfc4787_req1_endpoint_independent_mapping() {
    let mut h = Harness::lab();
    let a = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"a"),
        )
        .only_outside();
    let b = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 64, b"b"),
        )
        .only_outside();
    assert_eq!(
        src_of(&a),
        src_of(&b),
        "same inside endpoint must map to same public endpoint"
    );
    assert_eq!(h.w.bindings(), 1);
}

#[test]
fn rfc4787_req2_paired_pooling() {
    let mut h = Harness::lab();
    let mut addrs = std::collections::HashSet::new();
    for p in 0..600u16 {
        let o = h
            .send(
                Side::Inside,
                &udp(SUB_MAC, IN_MAC, SUB1, 10000 + p, SERVER, 53, 64, b"x"),
            )
            .only_outside();
        addrs.insert(src_of(&o).0);
    }
    assert_eq!(
        addrs.len(),
        1,
        "all of a subscriber's bindings on one public address"
    );
    assert_eq!(
        h.w.blocks_allocated(),
        2,
        "600 ports need two 512-port blocks"
    );
}

#[test]
fn ports_within_blocks_and_never_below_1024() {
    let mut h = Harness::lab();
    let mut ports = std::collections::HashSet::new();
    for p in 0..300u16 {
        let o = h
            .send(
                Side::Inside,
                &udp(SUB_MAC, IN_MAC, SUB1, 20000 + p, SERVER, 53, 64, b"x"),
            )
            .only_outside();
        let port = src_of(&o).1;
        assert!(port >= 1024);
        assert!(ports.insert(port), "public port reused while bound");
    }
    let min = *ports.iter().min().unwrap();
    let max = *ports.iter().max().unwrap();
    assert!(max - min < 512, "one block holds them all");
    assert_eq!((min - 1024) / 512, (max - 1024) / 512);
}

#[test]
fn unsolicited_inbound_dropped() {
    let mut h = Harness::lab();
    let o = h.send(
        Side::Outside,
        &udp(
            NH_MAC,
            OUT_MAC,
            SERVER,
            53,
            [203, 0, 113, 77],
            40000,
            64,
            b"x",
        ),
    );
    assert!(o.is_empty());
    assert_eq!(h.drops(DropReason::NoBinding), 1);
    // Not a pool address at all.
    let o = h.send(
        Side::Outside,
        &udp(NH_MAC, OUT_MAC, SERVER, 53, [192, 0, 2, 1], 40000, 64, b"x"),
    );
    assert!(o.is_empty());
    assert_eq!(h.drops(DropReason::NotForUs), 1);
}

#[test]
fn port_exhaustion_drops_without_touching_existing() {
    let mut cfg = WorkerConfig::lab_default();
    cfg.block_size = 8;
    cfg.max_blocks_per_subscriber = 1;
    let mut h = Harness::new(cfg);
    h.resolve_neighbors();
    let mut first = None;
    for p in 0..8u16 {
        let o = h
            .send(
                Side::Inside,
                &udp(SUB_MAC, IN_MAC, SUB1, 1000 + p, SERVER, 53, 64, b"x"),
            )
            .only_outside();
        first.get_or_insert(src_of(&o));
    }
    let refused = udp(SUB_MAC, IN_MAC, SUB1, 2000, SERVER, 53, 64, b"x");
    let r = h.send(Side::Inside, &refused).only_inside();
    assert_eq!(h.drops(DropReason::PortExhausted), 1);
    // RFC 5508 REQ-8: ICMP 3/13 to the subscriber, from the inside address, quoting the packet.
    assert_checksums_ok(&r);
    assert_eq!(&r[26..30], &IN_ADDR);
    assert_eq!(&r[30..34], &SUB1);
    assert_eq!((r[34], r[35]), (3, 13));
    assert_eq!(&r[42..], &refused[14..]);
    let (pip, pport) = first.unwrap();
    let back = h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pip, pport, 64, b"r"),
        )
        .only_inside();
    assert_eq!(back, udp(IN_MAC, SUB_MAC, SERVER, 53, SUB1, 1000, 63, b"r"));
}

#[test]
fn arp_replies_for_own_and_pool_addresses_only() {
    let mut h = Harness::new(WorkerConfig::lab_default());
    let r = h
        .send(Side::Inside, &arp_request(SUB_MAC, SUB1, IN_ADDR))
        .only_inside();
    assert_eq!(r, arp(2, IN_MAC, SUB_MAC, IN_ADDR, SUB_MAC, SUB1));
    let r = h
        .send(Side::Outside, &arp_request(NH_MAC, SERVER, OUT_ADDR))
        .only_outside();
    assert_eq!(r, arp(2, OUT_MAC, NH_MAC, OUT_ADDR, NH_MAC, SERVER));
    let r = h
        .send(
            Side::Outside,
            &arp_request(NH_MAC, SERVER, [203, 0, 113, 9]),
        )
        .only_outside();
    assert_eq!(r, arp(2, OUT_MAC, NH_MAC, [203, 0, 113, 9], NH_MAC, SERVER));
    // Pool addresses are not answered on the inside, and strangers are ignored everywhere.
    assert!(h
        .send(Side::Inside, &arp_request(SUB_MAC, SUB1, [203, 0, 113, 9]))
        .is_empty());
    assert!(h
        .send(
            Side::Outside,
            &arp_request(NH_MAC, SERVER, [198, 51, 100, 77])
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::ArpNotForUs), 2);
    assert_eq!(h.w.counters().event(Event::ArpReplySent), 3);
}

#[test]
fn next_hop_resolution_holds_first_packet() {
    let mut h = Harness::new(WorkerConfig::lab_default());
    // Off-link destination: goes to the configured next hop 198.51.100.2, unresolved.
    let o = h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 64, b"dns"),
    );
    assert!(o.inside.is_empty());
    assert_eq!(o.outside.len(), 1, "only the ARP request goes out");
    assert_eq!(
        o.outside[0],
        arp(1, OUT_MAC, [0xff; 6], OUT_ADDR, [0; 6], SERVER)
    );
    // A second packet to the same hop is held too, no second request.
    let o = h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5001, REMOTE, 53, 64, b"dns2"),
    );
    assert!(o.is_empty());
    // The reply releases both, in order.
    let o = h.send(
        Side::Outside,
        &arp(2, NH_MAC, OUT_MAC, SERVER, OUT_MAC, OUT_ADDR),
    );
    assert_eq!(o.outside.len(), 2);
    for f in &o.outside {
        assert_eq!(&f[0..6], &NH_MAC);
        assert_eq!(&f[6..12], &OUT_MAC);
        assert_checksums_ok(f);
    }
    assert_eq!(&o.outside[0][42..45], b"dns");
    assert_eq!(h.w.counters().event(Event::ArpHeldSent), 2);
}

#[test]
fn unresolved_next_hop_retries_then_drops_held() {
    let mut h = Harness::new(WorkerConfig::lab_default());
    h.send(
        Side::Inside,
        &udp(SUB_MAC, IN_MAC, SUB1, 5000, REMOTE, 53, 64, b"dns"),
    );
    let mut requests = 0;
    for _ in 0..6 {
        h.now += SEC;
        requests += h.poll().outside.len();
    }
    assert_eq!(requests, 2, "retried twice after the first request");
    assert_eq!(h.drops(DropReason::ArpUnresolved), 1);
    assert_eq!(h.w.arp_held(), (0, 0));
}

#[test]
fn ttl_1_answered_with_time_exceeded() {
    let mut h = Harness::lab();
    let orig = udp(
        SUB_MAC,
        IN_MAC,
        SUB1,
        5000,
        SERVER,
        33434,
        1,
        b"traceroute-probe",
    );
    let r = h.send(Side::Inside, &orig).only_inside();
    assert_checksums_ok(&r);
    let p = etherparse::SlicedPacket::from_ethernet(&r).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
        panic!()
    };
    assert_eq!(ip.header().source(), IN_ADDR);
    assert_eq!(ip.header().destination(), SUB1);
    let icmp = ip.payload().payload;
    assert_eq!(icmp[0], 11);
    assert_eq!(icmp[1], 0);
    // Quotes the whole original datagram (RFC 1812 4.3.2.3: up to 576 bytes), untranslated.
    assert_eq!(&icmp[8..], &orig[14..]);
    assert_eq!(h.drops(DropReason::TtlExceeded), 1);
    assert_eq!(h.w.bindings(), 0, "no binding for an expired packet");
}

#[test]
fn echo_to_own_addresses_answered() {
    let mut h = Harness::lab();
    let r = h
        .send(
            Side::Inside,
            &echo(SUB_MAC, IN_MAC, SUB1, IN_ADDR, 64, true, 7, 9),
        )
        .only_inside();
    assert_eq!(r, echo(IN_MAC, SUB_MAC, IN_ADDR, SUB1, 64, false, 7, 9));
    let r = h
        .send(
            Side::Outside,
            &echo(NH_MAC, OUT_MAC, SERVER, OUT_ADDR, 50, true, 7, 9),
        )
        .only_outside();
    assert_eq!(r, echo(OUT_MAC, NH_MAC, OUT_ADDR, SERVER, 64, false, 7, 9));
    // Anything else to us is dropped and counted.
    assert!(h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 1, IN_ADDR, 2, 64, b"x")
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::ToSelf), 1);
}

#[test]
fn udp_binding_expires_after_timeout_with_injected_clock() {
    let mut h = Harness::lab();
    let out = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"q"),
        )
        .only_outside();
    let (pip, pport) = src_of(&out);
    h.now += 299 * SEC;
    h.poll();
    assert_eq!(h.w.bindings(), 1, "still alive at 299 s");
    // Inbound traffic refreshes it (RFC 4787 REQ-6 is about outbound; inbound refresh is allowed).
    h.now += 2 * SEC;
    h.poll();
    assert_eq!(h.w.bindings(), 0, "expired after 300 s idle");
    assert_eq!(
        h.w.blocks_allocated(),
        1,
        "port and block held down (RFC 6888 REQ-8)"
    );
    h.now += 119 * SEC;
    h.poll();
    assert_eq!(h.w.blocks_allocated(), 1);
    h.now += 2 * SEC;
    h.poll();
    assert_eq!(
        h.w.blocks_allocated(),
        0,
        "block returned after the 120 s hold-down"
    );
    assert_eq!(h.w.subscribers(), 0);
    assert!(h
        .send(
            Side::Outside,
            &udp(NH_MAC, OUT_MAC, SERVER, 53, pip, pport, 64, b"late")
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::NoBinding), 1);
}

#[test]
fn tcp_fin_moves_binding_to_transitory_timeout() {
    let mut h = Harness::lab();
    h.send(
        Side::Inside,
        &tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, true, b""),
    );
    let mut fin = tcp(SUB_MAC, IN_MAC, SUB1, 40000, SERVER, 80, 64, false, b"");
    // Set FIN and fix the TCP checksum with an incremental update of the flags word.
    let old = u16::from_be_bytes([fin[46], fin[47]]);
    fin[47] |= 0x01;
    let new = u16::from_be_bytes([fin[46], fin[47]]);
    let c = u16::from_be_bytes([fin[50], fin[51]]);
    fin[50..52].copy_from_slice(&dataplane::checksum::update16(c, old, new).to_be_bytes());
    h.send(Side::Inside, &fin).only_outside();
    h.now += 241 * SEC;
    h.poll();
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn inside_source_outside_subscriber_prefix_dropped() {
    let mut h = Harness::lab();
    assert!(h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, [10, 0, 0, 1], 5000, SERVER, 53, 64, b"x")
        )
        .is_empty());
    assert_eq!(h.drops(DropReason::BadSource), 1);
}

#[test]
fn frames_for_other_macs_and_other_ethertypes_dropped() {
    let mut h = Harness::lab();
    let mut f = udp(
        SUB_MAC,
        [0x0a, 9, 9, 9, 9, 9],
        SUB1,
        5000,
        SERVER,
        53,
        64,
        b"x",
    );
    assert!(h.send(Side::Inside, &f).is_empty());
    assert_eq!(h.drops(DropReason::NotOurMac), 1);
    f[0..6].copy_from_slice(&IN_MAC);
    f[12] = 0x86;
    f[13] = 0xdd;
    assert!(h.send(Side::Inside, &f).is_empty());
    assert_eq!(h.drops(DropReason::UnsupportedEthertype), 1);
}

#[test]
fn malformed_frames_every_truncation_dropped_and_counted() {
    let mut h = Harness::lab();
    for frame in [
        udp(
            SUB_MAC,
            IN_MAC,
            SUB1,
            5000,
            SERVER,
            53,
            64,
            b"payload-bytes",
        ),
        tcp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 80, 64, true, b"x"),
        echo(SUB_MAC, IN_MAC, SUB1, SERVER, 64, true, 1, 1),
    ] {
        for len in 0..frame.len() {
            let before = h.w.counters().total_drops();
            let o = h.send(Side::Inside, &frame[..len]);
            assert!(o.is_empty(), "truncated to {len} produced output");
            assert_eq!(
                h.w.counters().total_drops(),
                before + 1,
                "truncation to {len} not counted"
            );
        }
    }
    assert!(h.drops(DropReason::EthTruncated) >= 14 * 3);
    assert!(h.drops(DropReason::Ipv4Truncated) > 0);
    assert!(h.drops(DropReason::Ipv4TotalLength) > 0);
    assert_eq!(h.w.bindings(), 0);
}

#[test]
fn bad_ihl_total_length_version_and_checksum_dropped() {
    let mut h = Harness::lab();
    let good = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"payload");
    type Case<'a> = (&'a dyn Fn(&mut Vec<u8>), DropReason);
    let cases: &[Case] = &[
        (&|f| f[14] = 0x44, DropReason::Ipv4HeaderLength),
        (&|f| f[14] = 0x4f, DropReason::Ipv4Truncated),
        (&|f| f[14] = 0x65, DropReason::Ipv4Version),
        (
            &|f| f[17] = f[17].wrapping_add(40),
            DropReason::Ipv4TotalLength,
        ),
        (
            &|f| {
                f[16] = 0;
                f[17] = 10
            },
            DropReason::Ipv4TotalLength,
        ),
        (&|f| f[24] ^= 0x55, DropReason::Ipv4Checksum),
    ];
    for (mutate, reason) in cases {
        let mut f = good.clone();
        mutate(&mut f);
        let before = h.drops(*reason);
        assert!(h.send(Side::Inside, &f).is_empty());
        assert_eq!(h.drops(*reason), before + 1, "{reason:?}");
    }
}

#[test]
fn ethernet_padding_is_trimmed_not_forwarded() {
    let mut h = Harness::lab();
    let mut f = udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"");
    f.resize(60, 0xee);
    let out = h.send(Side::Inside, &f).only_outside();
    assert_eq!(out.len(), 42);
    assert_checksums_ok(&out);
}

#[test]
fn two_subscribers_get_distinct_public_endpoints() {
    let mut h = Harness::lab();
    let a = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB1, 5000, SERVER, 53, 64, b"x"),
        )
        .only_outside();
    let b = h
        .send(
            Side::Inside,
            &udp(SUB_MAC, IN_MAC, SUB2, 5000, SERVER, 53, 64, b"x"),
        )
        .only_outside();
    assert_ne!(src_of(&a), src_of(&b));
    let back = h
        .send(
            Side::Outside,
            &udp(
                NH_MAC,
                OUT_MAC,
                SERVER,
                53,
                src_of(&b).0,
                src_of(&b).1,
                64,
                b"y",
            ),
        )
        .only_inside();
    assert_eq!(back, udp(IN_MAC, SUB_MAC, SERVER, 53, SUB2, 5000, 63, b"y"));
}
