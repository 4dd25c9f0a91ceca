use super::*;
use proptest::prelude::*;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 69);
const INSIDE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 2), 40000);
const PUBLIC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 200), 50000);

#[test]
fn rrq_with_options_as_tftp_hpa_sends() {
    let p = b"\x00\x01file.bin\x00octet\x00blksize\x001468\x00tsize\x000\x00";
    let r = parse(p).unwrap();
    assert_eq!(r.kind, TftpKind::Read);
    assert_eq!(r.filename, b"file.bin");
    assert_eq!(r.mode, TftpMode::Octet);
    assert_eq!(r.option(b"BLKSIZE"), Some(&b"1468"[..]));
    assert_eq!(r.options().count(), 2);
    let mut k = AlgCounters::default();
    let e = process(p, SERVER, PUBLIC, INSIDE, &mut k).unwrap();
    assert_eq!(
        e,
        Expectation {
            protocol: Protocol::Udp,
            initiator: crate::Side::Outside,
            remote_addr: SERVER,
            remote_port: None,
            inside_addr: *INSIDE.ip(),
            inside_port: Some(40000),
            public: Some(PUBLIC),
        }
    );
    // The server answers from a new port (its TID).
    assert!(e.matches(Protocol::Udp, SocketAddrV4::new(SERVER, 61234), PUBLIC));
    assert!(!e.matches(
        Protocol::Udp,
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 61234),
        PUBLIC
    ));
    assert_eq!((k.messages, k.expectations), (1, 1));
}

#[test]
fn wrq_and_modes_in_any_case() {
    for (p, mode) in [
        (&b"\x00\x02up.txt\x00NetAscii\x00"[..], TftpMode::Netascii),
        (b"\x00\x02up.txt\x00OCTET\x00", TftpMode::Octet),
        (b"\x00\x02up.txt\x00mail\x00", TftpMode::Mail),
    ] {
        let r = parse(p).unwrap();
        assert_eq!((r.kind, r.mode), (TftpKind::Write, mode));
        assert_eq!(r.options().count(), 0);
    }
}

#[test]
fn malformed_requests_are_counted_by_reason() {
    let mut long = b"\x00\x01".to_vec();
    long.extend(std::iter::repeat_n(b'a', 600));
    long.extend_from_slice(b"\x00octet\x00");
    let mut many = b"\x00\x01f\x00octet\x00".to_vec();
    for i in 0..=MAX_OPTIONS {
        many.extend_from_slice(format!("opt{i}\x001\x00").as_bytes());
    }
    let cases: [(&[u8], TftpError); 12] = [
        (b"", TftpError::Truncated),
        (b"\x00", TftpError::Truncated),
        (b"\x00\x01", TftpError::Truncated),
        (b"\x00\x03\x00\x01data", TftpError::NotRequest),
        (b"\x00\x05\x00\x01oops\x00", TftpError::NotRequest),
        (b"\x00\x01file.bin", TftpError::MissingNul),
        (b"\x00\x01file.bin\x00octet", TftpError::MissingNul),
        (b"\x00\x01\x00octet\x00", TftpError::EmptyFilename),
        (b"\x00\x01f\x00binary\x00", TftpError::UnknownMode),
        (b"\x00\x01f\x00octet\x00blksize\x00", TftpError::BadOption),
        (b"\x00\x01f\x00octet\x00\x001468\x00", TftpError::BadOption),
        (&long, TftpError::TooLong),
    ];
    let mut k = AlgCounters::<TftpError>::default();
    for (p, e) in cases {
        assert_eq!(parse(p), Err(e), "{p:?}");
        assert!(process(p, SERVER, PUBLIC, INSIDE, &mut k).is_none());
    }
    assert_eq!(parse(&many), Err(TftpError::TooManyOptions));
    assert_eq!(
        parse(b"\x00\x01f\x00octet\x00blksize\x001468"),
        Err(TftpError::MissingNul)
    );
    assert_eq!(k.failed(TftpError::NotRequest), 2);
    assert_eq!(k.total_failures(), 12);
    assert_eq!(k.expectations, 0);
    assert_eq!(
        TftpError::UnknownMode.counter_name(),
        "alg_tftp_unknown_mode"
    );
}

#[test]
fn exactly_max_request_is_accepted() {
    let mut p = b"\x00\x01".to_vec();
    p.extend(std::iter::repeat_n(b'a', MAX_REQUEST - 2 - 7));
    p.extend_from_slice(b"\x00octet\x00");
    assert_eq!(p.len(), MAX_REQUEST);
    assert!(parse(&p).is_ok());
    p.insert(2, b'a');
    assert_eq!(parse(&p), Err(TftpError::TooLong));
}

#[test]
fn server_inside_gives_an_outbound_expectation() {
    let r = parse(b"\x00\x01f\x00octet\x00").unwrap();
    let client = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 3333);
    let e = r.outbound_expectation(Ipv4Addr::new(100, 64, 0, 9), client);
    assert_eq!(e.initiator, crate::Side::Inside);
    assert!(e.matches(
        Protocol::Udp,
        SocketAddrV4::new(Ipv4Addr::new(100, 64, 0, 9), 7000),
        client
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        if let Ok(r) = parse(&bytes) {
            prop_assert!(bytes.len() <= MAX_REQUEST);
            prop_assert!(!r.filename.is_empty());
            prop_assert!(r.options().count() <= MAX_OPTIONS);
        }
    }

    #[test]
    fn well_formed_requests_parse(
        op in 1u8..=2,
        name in "[a-zA-Z0-9/._-]{1,100}",
        mode in prop_oneof![Just("octet"), Just("NETASCII"), Just("Mail")],
        opts in prop::collection::vec(("[a-z]{1,10}", "[0-9]{0,6}"), 0..MAX_OPTIONS),
    ) {
        let mut p = vec![0, op];
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(mode.as_bytes());
        p.push(0);
        for (n, v) in &opts {
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        prop_assume!(p.len() <= MAX_REQUEST);
        let r = parse(&p).unwrap();
        prop_assert_eq!(r.filename, name.as_bytes());
        let got: Vec<_> = r.options().collect();
        prop_assert_eq!(got.len(), opts.len());
        for ((n, v), (gn, gv)) in opts.iter().zip(got) {
            prop_assert_eq!(n.as_bytes(), gn);
            prop_assert_eq!(v.as_bytes(), gv);
        }
    }
}
