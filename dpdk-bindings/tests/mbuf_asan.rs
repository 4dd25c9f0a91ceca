//! Memory-safety workout of the mbuf, mempool and ring wrappers, written to be run under
//! AddressSanitizer (`make test`'s `asan` step, docs/robustness.md) and run by plain
//! `cargo test` too.
//!
//! It drives every `unsafe` block of the wrappers that touches Rust-owned memory, at its edges:
//! `alloc_bulk` and `dequeue_burst` writing into a `Vec`'s spare capacity then `set_len`,
//! `enqueue_burst` shifting a partly sent `Vec` down with an overlapping copy, `free_bulk`
//! taking a `Vec`'s elements, `data`/`data_mut` slices over the whole data room, a ring dropped
//! with mbufs still inside, and mbufs freed on another lcore than the one that allocated them.
//! Every mbuf is accounted for through `Mempool::in_use`, so a leak or a double free also fails
//! without ASan. (The safe API has no segment chaining: `nb_segs` is read-only.)
//!
//! EAL can be initialised once per process, so this is one `#[test]` in its own binary.

#![allow(clippy::cast_possible_truncation)] // test patterns and tags truncate on purpose

use dpdk::{free_bulk, launch, Eal, Mbuf, Mempool, Ring};

const POOL: usize = 1023;
const HEADROOM: usize = 128;
const DATA_ROOM: usize = 2048;

fn eal_args() -> Vec<String> {
    let prefix = format!("dpdk-mbuf-asan-{}", std::process::id());
    [
        "mbuf_asan_test",
        "-l",
        "0-1",
        "--no-huge",
        "-m",
        "128",
        "--no-pci",
        "--no-telemetry",
        "--no-shconf",
        "--file-prefix",
        &prefix,
        "--log-level",
        "lib.eal:notice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The byte written at offset `i` of the mbuf tagged `tag`.
fn pattern(tag: u32, i: usize) -> u8 {
    (tag as usize).wrapping_mul(31).wrapping_add(i) as u8
}

/// Fills the whole data room (headroom and tailroom) with `tag`'s pattern and checks it back.
fn fill_room(m: &mut Mbuf, tag: u32) {
    m.set_user_tag(tag);
    let head = m.headroom();
    let tail = m.tailroom();
    assert_eq!(head + tail + m.data_len(), HEADROOM + DATA_ROOM);
    m.prepend(head).expect("whole headroom");
    m.append(tail).expect("whole tailroom");
    assert_eq!((m.headroom(), m.tailroom()), (0, 0));
    assert!(m.prepend(1).is_none() && m.append(1).is_none());
    for (i, b) in m.data_mut().iter_mut().enumerate() {
        *b = pattern(tag, i);
    }
    check_room(m);
}

fn check_room(m: &Mbuf) {
    let tag = m.user_tag();
    let d = m.data();
    assert_eq!(d.len(), HEADROOM + DATA_ROOM);
    assert!(
        d.iter().enumerate().all(|(i, &b)| b == pattern(tag, i)),
        "mbuf {tag} corrupted"
    );
}

#[test]
fn mbufs_under_address_sanitizer() {
    let eal = Eal::init(&eal_args()).expect("EAL init");
    let pool = Mempool::new(
        "asan_pool",
        POOL as u32,
        32,
        Mempool::DEFAULT_DATA_ROOM,
        eal.socket_id(),
    )
    .expect("mempool");

    // --- alloc_bulk into spare capacity, all or nothing -----------------------------------
    let mut bufs: Vec<Mbuf> = Vec::new();
    let mut tag = 0u32;
    for n in [1usize, 7, 32, 64, 100, 3] {
        let before = bufs.len();
        assert!(pool.alloc_bulk(&mut bufs, n));
        assert_eq!(bufs.len(), before + n);
        for m in &mut bufs[before..] {
            fill_room(m, tag);
            tag += 1;
        }
    }
    assert_eq!(pool.in_use(), bufs.len());
    let held = bufs.len();
    // More than the pool has left: nothing allocated, the Vec untouched.
    assert!(!pool.alloc_bulk(&mut bufs, POOL - held + 1));
    assert_eq!(bufs.len(), held);
    bufs.iter().for_each(check_room);

    // --- shrink the data: adj / trim / set_data_len at their limits -----------------------
    {
        let m = &mut bufs[0];
        let t = m.user_tag();
        m.adj(HEADROOM).expect("adj");
        assert_eq!(m.data()[0], pattern(t, HEADROOM));
        m.trim(DATA_ROOM - 1).expect("trim");
        assert_eq!(m.data(), &[pattern(t, HEADROOM)]);
        assert!(m.trim(2).is_err() && m.adj(2).is_err());
        m.trim(1).expect("trim to empty");
        assert!(m.data().is_empty());
        let room = m.tailroom();
        m.set_data_len(room)
            .expect("set_data_len to the whole room");
        assert_eq!(m.data().len(), room);
        assert!(m.set_data_len(room + 1).is_err());
    }

    // --- free_bulk hands every element to DPDK, keeps the capacity ------------------------
    let cap = bufs.capacity();
    free_bulk(&mut bufs);
    assert!(bufs.is_empty() && bufs.capacity() == cap);
    assert_eq!(pool.in_use(), 0);

    // --- a ring: partial enqueue shifts the Vec, dequeue appends in FIFO order ------------
    let (mut tx, mut rx) = Ring::new("asan_ring", 32, eal.socket_id()).expect("ring");
    let mut out: Vec<Mbuf> = Vec::new();
    assert!(pool.alloc_bulk(&mut bufs, 100));
    for (i, m) in bufs.iter_mut().enumerate() {
        m.append(1).expect("room")[0] = i as u8;
        m.set_user_tag(i as u32);
    }
    let sent = tx.enqueue_burst(&mut bufs);
    assert_eq!(sent, 32, "the ring holds 32");
    assert_eq!(bufs.len(), 68);
    let left: Vec<u32> = bufs.iter().map(Mbuf::user_tag).collect();
    assert_eq!(
        left,
        (32..100).collect::<Vec<u32>>(),
        "unsent mbufs kept in order"
    );
    assert_eq!(tx.enqueue_burst(&mut bufs), 0, "ring full");
    // A Vec that already holds mbufs: dequeue appends after them.
    assert!(pool.alloc_bulk(&mut out, 2));
    let mut got = 0;
    while got < 32 {
        let n = rx.dequeue_burst(&mut out, 7);
        assert!(n > 0 && n <= 7);
        got += n;
    }
    assert_eq!(rx.dequeue_burst(&mut out, 7), 0);
    let tags: Vec<u32> = out[2..].iter().map(Mbuf::user_tag).collect();
    assert_eq!(tags, (0..32).collect::<Vec<u32>>(), "FIFO");
    assert!(out[2..].iter().all(|m| m.data() == [m.user_tag() as u8]));
    // Refill and drop the ring with mbufs inside: its Drop frees them.
    assert_eq!(tx.enqueue_burst(&mut bufs), 32);
    assert_eq!(pool.in_use(), 100 + 2);
    drop((tx, rx));
    assert_eq!(pool.in_use(), 100 + 2 - 32);
    free_bulk(&mut out);
    drop(bufs);
    assert_eq!(pool.in_use(), 0);

    // --- mbufs cross lcores: filled on the main lcore, checked and freed on lcore 1 -------
    let (mut tx, mut rx) = Ring::new("asan_xlcore", 64, eal.socket_id()).expect("ring");
    const ROUNDS: u32 = 20;
    const PER_ROUND: usize = 48;
    let job = launch(1, move || {
        let mut seen = 0u32;
        let mut v: Vec<Mbuf> = Vec::with_capacity(16);
        while seen < ROUNDS * PER_ROUND as u32 {
            if rx.dequeue_burst(&mut v, 16) == 0 {
                std::hint::spin_loop();
                continue;
            }
            for m in &v {
                check_room(m);
                assert_eq!(m.user_tag(), seen, "order across lcores");
                seen += 1;
            }
            free_bulk(&mut v);
        }
        seen
    })
    .expect("launch on lcore 1");
    let mut next = 0u32;
    for _ in 0..ROUNDS {
        let mut v = Vec::new();
        assert!(pool.alloc_bulk(&mut v, PER_ROUND));
        for m in &mut v {
            fill_room(m, next);
            next += 1;
        }
        while !v.is_empty() {
            if tx.enqueue_burst(&mut v) == 0 {
                std::hint::spin_loop();
            }
        }
    }
    assert_eq!(job.wait().expect("lcore 1"), ROUNDS * PER_ROUND as u32);
    assert_eq!(pool.in_use(), 0);
}
