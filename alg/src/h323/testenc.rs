//! Test-only aligned-PER writer and builders of real H.225.0 / H.245 / RAS messages, hand
//! encoded from the ASN.1 (H.225.0 v4, H.245 v7). Every builder's output is checked against
//! Wireshark's dissectors by `alg/tests/h323_tshark.rs` (through the fixtures written by
//! `write_fixtures`).
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use core::net::SocketAddrV4;

/// Bit writer (aligned PER).
#[derive(Default)]
pub struct W {
    buf: Vec<u8>,
    bits: usize,
}

impl W {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn bit(&mut self, b: bool) -> &mut Self {
        if self.bits.is_multiple_of(8) {
            self.buf.push(0);
        }
        if b {
            let i = self.buf.len() - 1;
            self.buf[i] |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
        self
    }
    pub fn bits(&mut self, v: u32, n: u32) -> &mut Self {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
        self
    }
    pub fn align(&mut self) -> &mut Self {
        self.bits = self.bits.div_ceil(8) * 8;
        self
    }
    pub fn octets(&mut self, o: &[u8]) -> &mut Self {
        self.align();
        self.buf.extend_from_slice(o);
        self.bits += o.len() * 8;
        self
    }
    /// Constrained whole number (ranges up to 65536).
    pub fn cons(&mut self, v: u32, lb: u32, ub: u32) -> &mut Self {
        let x = v - lb;
        if ub - lb == u32::MAX {
            let n = (32 - x.leading_zeros()).div_ceil(8).max(1);
            return self.cons(n, 1, 4).align().bits(x, 8 * n);
        }
        let range = ub - lb + 1;
        if range == 1 {
            self
        } else if range < 256 {
            let n = 32 - (range - 1).leading_zeros();
            self.bits(x, n)
        } else if range == 256 {
            self.align().bits(x, 8)
        } else if range <= 65536 {
            self.align().bits(x, 16)
        } else {
            // Octet count 1..=max as a constrained whole number, then the octets.
            let max = (32 - (range - 1).leading_zeros()).div_ceil(8);
            let n = (32 - x.leading_zeros()).div_ceil(8).max(1);
            self.cons(n, 1, max).align().bits(x, 8 * n)
        }
    }
    pub fn len(&mut self, n: usize) -> &mut Self {
        self.align();
        if n < 128 {
            self.bits(n as u32, 8)
        } else {
            self.bits(0x8000 | n as u32, 16)
        }
    }
    /// CHOICE index: extension bit (if extensible) and the root index.
    pub fn choice(&mut self, i: u32, root: u32, ext: bool) -> &mut Self {
        if ext {
            self.bit(false);
        }
        self.cons(i, 0, root - 1)
    }
    /// Extension alternative `i` of a CHOICE, with its open type contents.
    pub fn choice_ext(&mut self, i: u32, inner: W) -> &mut Self {
        self.bit(true).bit(false).bits(i, 6);
        self.open(inner)
    }
    /// An open type wrapping `inner`.
    pub fn open(&mut self, inner: W) -> &mut Self {
        let mut b = inner.buf;
        if b.is_empty() {
            b.push(0);
        }
        self.len(b.len()).octets(&b)
    }
    pub fn oid(&mut self, o: &[u8]) -> &mut Self {
        self.len(o.len()).octets(o)
    }
    /// Extension additions: (index, encoding) in increasing index order.
    pub fn exts(&mut self, adds: Vec<(u32, W)>) -> &mut Self {
        let n = adds.last().unwrap().0 + 1;
        self.bit(false).bits(n - 1, 6);
        for i in 0..n {
            self.bit(adds.iter().any(|(j, _)| *j == i));
        }
        for (_, w) in adds {
            self.open(w);
        }
        self
    }
    /// Appends the exact bits of `o`.
    pub fn append(&mut self, o: &W) -> &mut Self {
        for i in 0..o.bits {
            self.bit(o.buf[i / 8] & (0x80 >> (i % 8)) != 0);
        }
        self
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.align();
        self.buf
    }
}

fn w_(f: impl FnOnce(&mut W)) -> W {
    w(f)
}

fn w(f: impl FnOnce(&mut W)) -> W {
    let mut x = W::new();
    f(&mut x);
    x
}

/// H.225.0 protocolIdentifier 0.0.8.2250.0.4.
pub const H225_V4: [u8; 6] = [0x00, 0x08, 0x91, 0x4a, 0x00, 0x04];
/// A conferenceID / call identifier GUID.
pub const GUID: [u8; 16] = [
    0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f, 0x11, 0xe0, 0x80, 0x01, 0x00, 0x0c, 0x29, 0x12, 0x34, 0x56,
];

/// H.225.0 TransportAddress ipAddress.
pub fn ta(w: &mut W, a: SocketAddrV4) {
    w.choice(0, 7, true)
        .octets(&a.ip().octets())
        .cons(u32::from(a.port()), 0, 65535);
}

/// H.245 TransportAddress unicastAddress iPAddress.
pub fn ta245(w: &mut W, a: SocketAddrV4) {
    w.choice(0, 2, true)
        .choice(0, 5, true)
        .bit(false)
        .octets(&a.ip().octets())
        .cons(u32::from(a.port()), 0, 65535);
}

fn h323_id(w: &mut W, s: &str) {
    w.choice(1, 2, true).cons(s.len() as u32, 1, 256);
    let mut o = Vec::new();
    for c in s.encode_utf16() {
        o.extend(c.to_be_bytes());
    }
    w.octets(&o);
}

fn dialed_digits(w: &mut W, s: &str) {
    w.choice(0, 2, true).cons(s.len() as u32, 1, 128).align();
    for c in s.bytes() {
        // X.691 §27.5.4: characters are the indices in the permitted alphabet in canonical
        // (code point) order.
        let v = b"#*,0123456789".iter().position(|&x| x == c).unwrap();
        w.bits(v as u32, 4);
    }
}

fn vendor(w: &mut W) {
    w.bit(false).bits(0b11, 2); // ext, productId, versionId
    w.bit(false)
        .cons(181, 0, 255)
        .cons(0, 0, 255)
        .cons(18, 0, 65535);
    let p = b"cgnat-test";
    w.cons(p.len() as u32, 1, 256).octets(p);
    let v = b"1.0";
    w.cons(v.len() as u32, 1, 256).octets(v);
}

/// EndpointType with vendor and terminal.
fn endpoint(w: &mut W) {
    w.bit(false).bits(0b010001, 6);
    vendor(w);
    w.bit(false).bit(false); // TerminalInfo
    w.bit(false).bit(false); // mc, undefinedNode
}

fn call_identifier() -> W {
    w(|w| {
        w.bit(false).octets(&GUID);
    })
}

fn boolean(b: bool) -> W {
    w(|w| {
        w.bit(b);
    })
}

/// H2250LogicalChannelParameters with the given mediaChannel / mediaControlChannel.
fn h2250(session: u32, media: Option<SocketAddrV4>, control: Option<SocketAddrV4>) -> W {
    w(|w| {
        w.bit(false);
        // nonStandard, associatedSessionID, mediaChannel, mediaGuaranteedDelivery,
        // mediaControlChannel, mediaControlGuaranteedDelivery, silenceSuppression,
        // destination, dynamicRTPPayloadType, mediaPacketization
        w.bit(false)
            .bit(false)
            .bit(media.is_some())
            .bit(media.is_some());
        w.bit(control.is_some()).bit(control.is_some()).bit(true);
        w.bits(0, 3);
        w.cons(session, 0, 255);
        if let Some(m) = media {
            ta245(w, m);
            w.bit(false);
        }
        if let Some(c) = control {
            ta245(w, c);
            w.bit(false);
        }
        w.bit(false); // silenceSuppression
    })
}

/// audioData g711Ulaw64k, 20 ms.
fn g711(w: &mut W) {
    w.choice(3, 6, true).choice(3, 14, true).cons(20, 1, 256);
}

/// An OpenLogicalChannel for fastStart or H.245: a forward G.711 channel announcing its
/// RTCP receiver (`control`), or (with `reverse`) a reverse G.711 channel announcing where
/// RTP (`media`) and RTCP are received.
pub fn olc(number: u32, media: SocketAddrV4, control: SocketAddrV4, reverse: bool) -> Vec<u8> {
    let mut w = W::new();
    w.bit(false).bit(reverse);
    w.cons(number, 1, 65535);
    w.bit(false).bit(false); // forward params: ext, portNumber
    if reverse {
        w.choice(1, 6, true); // nullData
        w.choice_ext(1, W::new()); // none
        w.bit(false).bit(true); // reverse params: ext, multiplexParameters
        g711(&mut w);
        w.choice_ext(0, h2250(1, Some(media), Some(control)));
    } else {
        g711(&mut w);
        w.choice_ext(0, h2250(1, None, Some(control)));
    }
    w.finish()
}

/// H.245 request openLogicalChannel.
pub fn h245_olc(number: u32, media: SocketAddrV4, control: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(0, 4, true).choice(3, 11, true);
    w.bit(false).bit(false).cons(number, 1, 65535);
    w.bit(false).bit(false);
    g711(&mut w);
    w.choice_ext(0, h2250(1, Some(media), Some(control)));
    w.finish()
}

/// H.245 request openLogicalChannel for H.263 video (QCIF and CIF at 30 fps, 384 kbit/s).
pub fn h245_olc_h263(number: u32, media: SocketAddrV4, control: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(0, 4, true).choice(3, 11, true);
    w.bit(false).bit(false).cons(number, 1, 65535);
    w.bit(false).bit(false);
    w.choice(2, 6, true).choice(3, 5, true); // videoData h263VideoCapability
    w.bit(false).bits(0b0110000, 7);
    w.cons(1, 1, 32).cons(1, 1, 32);
    w.cons(3840, 1, 192_400);
    w.bits(0, 5);
    w.choice_ext(0, h2250(2, Some(media), Some(control)));
    w.finish()
}

/// H.245 response openLogicalChannelAck with forwardMultiplexAckParameters.
pub fn h245_olc_ack(number: u32, media: SocketAddrV4, control: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(1, 4, true).choice(5, 19, true);
    w.bit(true).bit(false).cons(number, 1, 65535);
    let ack = self::w(|w| {
        w.choice(0, 1, true);
        w.bit(false).bits(0b01110, 5);
        w.cons(1, 1, 255);
        ta245(w, media);
        ta245(w, control);
    });
    w.exts(vec![(1, ack)]);
    w.finish()
}

/// H323-UserInformation around a body (choice index `body`, root unless `ext_body`).
fn user_information(body: u32, ext_body: bool, uuie: W) -> Vec<u8> {
    user_information_tunnel(body, ext_body, uuie, false)
}

/// The same, optionally with one tunnelled H.245 message in `h245Control`.
fn user_information_tunnel(body: u32, ext_body: bool, uuie: W, tunnel: bool) -> Vec<u8> {
    let mut w = W::new();
    w.bit(false).bit(false); // H323-UserInformation: ext, user-data
    w.bit(true).bit(false); // H323-UU-PDU: ext, nonStandardData
    if ext_body {
        w.choice_ext(body, uuie);
    } else {
        w.choice(body, 7, true);
        assert_eq!(w.bits % 8, 0, "the UUIE starts octet-aligned");
        w.append(&uuie);
    }
    let mut adds = vec![(1, boolean(tunnel))]; // h245Tunnelling
    if tunnel {
        // h245Control: one MultimediaSystemControlMessage (here an OLC).
        let olc = h245_olc(
            1,
            "100.64.0.2:5000".parse().unwrap(),
            "100.64.0.2:5001".parse().unwrap(),
        );
        adds.push((
            2,
            w_(|w| {
                w.len(1).len(olc.len()).octets(&olc);
            }),
        ));
    }
    w.exts(adds);
    w.finish()
}

/// A UUIE encoding (it starts octet-aligned, so it is encoded on its own and appended).
fn uuie(f: impl FnOnce(&mut W)) -> W {
    let mut x = W::new();
    f(&mut x);
    x
}

/// Setup-UUIE options.
pub struct SetupOpts {
    pub h245: Option<SocketAddrV4>,
    pub source_call_signal: Option<SocketAddrV4>,
    pub dest_call_signal: SocketAddrV4,
    pub fast_start: Vec<Vec<u8>>,
}

/// H.225.0 Setup.
pub fn setup(o: &SetupOpts) -> Vec<u8> {
    let u = uuie(|w| {
        w.bit(true);
        w.bit(o.h245.is_some()).bits(0b111, 3).bits(0, 3);
        w.oid(&H225_V4);
        if let Some(a) = o.h245 {
            ta(w, a);
        }
        w.len(1);
        h323_id(w, "alice");
        endpoint(w);
        w.len(1);
        dialed_digits(w, "2001");
        ta(w, o.dest_call_signal);
        w.bit(false); // activeMC
        w.octets(&GUID);
        w.choice(0, 3, true); // create
        w.choice(0, 4, true); // pointToPoint
        let mut adds = Vec::new();
        if let Some(a) = o.source_call_signal {
            adds.push((0, self::w(|w| ta(w, a))));
        }
        adds.push((2, call_identifier()));
        if !o.fast_start.is_empty() {
            adds.push((
                6,
                self::w(|w| {
                    w.len(o.fast_start.len());
                    for e in &o.fast_start {
                        w.len(e.len()).octets(e);
                    }
                }),
            ));
        }
        adds.push((7, boolean(false)));
        adds.push((8, boolean(false)));
        adds.push((10, boolean(false)));
        adds.push((11, boolean(false)));
        w.exts(adds);
    });
    user_information(0, false, u)
}

/// H.225.0 Connect with h245Address and fastStart.
pub fn connect(h245: SocketAddrV4, fast_start: &[Vec<u8>]) -> Vec<u8> {
    let u = uuie(|w| {
        w.bit(true).bit(true);
        w.oid(&H225_V4);
        ta(w, h245);
        endpoint(w);
        w.octets(&GUID);
        let mut adds = vec![(0, call_identifier())];
        if !fast_start.is_empty() {
            adds.push((
                4,
                self::w(|w| {
                    w.len(fast_start.len());
                    for e in fast_start {
                        w.len(e.len()).octets(e);
                    }
                }),
            ));
        }
        adds.push((5, boolean(false)));
        adds.push((6, boolean(false)));
        w.exts(adds);
    });
    user_information(2, false, u)
}

/// H.225.0 Facility: call forwarding to `alternative` (reason callForwarded), or, with
/// `alternative == None`, startH245 with `h245`.
pub fn facility(alternative: Option<SocketAddrV4>, h245: Option<SocketAddrV4>) -> Vec<u8> {
    let u = uuie(|w| {
        w.bit(true);
        w.bit(alternative.is_some()).bit(false).bit(true);
        w.oid(&H225_V4);
        if let Some(a) = alternative {
            ta(w, a);
        }
        w.octets(&GUID);
        if alternative.is_some() {
            w.choice(1, 4, true); // callForwarded
        } else {
            w.choice_ext(1, W::new()); // startH245
        }
        let mut adds = vec![(0, call_identifier())];
        if let Some(a) = h245 {
            adds.push((6, self::w(|w| ta(w, a))));
        }
        w.exts(adds);
    });
    user_information(6, false, u)
}

/// H.225.0 Facility startH245 whose H323-UU-PDU tunnels H.245 in h245Control.
pub fn facility_tunnelled(h245: SocketAddrV4) -> Vec<u8> {
    let u = uuie(|w| {
        w.bit(true).bits(0b001, 3);
        w.oid(&H225_V4);
        w.octets(&GUID);
        w.choice_ext(1, W::new());
        w.exts(vec![(0, call_identifier()), (6, self::w(|w| ta(w, h245)))]);
    });
    user_information_tunnel(6, false, u, true)
}

/// H.225.0 Progress (an extension alternative of the body) with h245Address and fastStart.
pub fn progress(h245: SocketAddrV4, fast_start: &[Vec<u8>]) -> Vec<u8> {
    let u = uuie(|w| {
        w.bit(false);
        // h245Address, h245SecurityMode, tokens, cryptoTokens, fastStart
        w.bit(true).bits(0, 3).bit(!fast_start.is_empty());
        w.oid(&H225_V4);
        endpoint(w);
        ta(w, h245);
        w.bit(false).octets(&GUID); // callIdentifier
        if !fast_start.is_empty() {
            w.len(fast_start.len());
            for e in fast_start {
                w.len(e.len()).octets(e);
            }
        }
    });
    user_information(0, true, u)
}

/// A Q.931 message of type `message_type` carrying `uu` (the H323-UserInformation).
pub fn q931(message_type: u8, uu: &[u8]) -> Vec<u8> {
    let mut m = vec![0x08, 0x02, 0x12, 0x34, message_type];
    if message_type == 0x05 {
        m.extend([0x04, 0x03, 0x88, 0x93, 0xa5]); // Bearer capability
    }
    let len = u16::try_from(uu.len() + 1).unwrap();
    m.push(0x7e);
    m.extend(len.to_be_bytes());
    m.push(0x05);
    m.extend_from_slice(uu);
    m
}

/// A TPKT around `body`.
pub fn tpkt(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 4).unwrap();
    let mut m = vec![3, 0];
    m.extend(len.to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// RAS RegistrationRequest.
pub fn rrq(call_signal: SocketAddrV4, ras: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(3, 25, true);
    w.bit(false).bits(0b010, 3);
    w.cons(7, 1, 65535);
    w.oid(&H225_V4);
    w.bit(true); // discoveryComplete
    w.len(1);
    ta(&mut w, call_signal);
    w.len(1);
    ta(&mut w, ras);
    endpoint(&mut w);
    w.len(1);
    h323_id(&mut w, "alice");
    vendor(&mut w);
    w.finish()
}

/// RAS AdmissionRequest for an outgoing call to `dest` from `src` (direct call model).
pub fn arq(src: SocketAddrV4, dest: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(9, 25, true);
    // callModel, destinationInfo, destCallSignalAddress, destExtraCallInfo,
    // srcCallSignalAddress, nonStandardData, callServices
    w.bit(false).bits(0b111_0100, 7);
    w.cons(9, 1, 65535);
    w.choice(0, 4, true); // pointToPoint
    w.choice(0, 2, true); // direct
    let id = "ep1";
    w.cons(id.len() as u32, 1, 128);
    let mut o = Vec::new();
    for c in id.encode_utf16() {
        o.extend(c.to_be_bytes());
    }
    w.octets(&o);
    w.len(1);
    dialed_digits(&mut w, "2001");
    ta(&mut w, dest);
    w.len(1);
    h323_id(&mut w, "alice");
    ta(&mut w, src);
    w.cons(640, 0, u32::MAX); // bandWidth
    w.cons(0x1234, 0, 65535); // callReferenceValue
    w.octets(&GUID); // conferenceID
    w.bit(false).bit(false); // activeMC, answerCall
    w.finish()
}

/// RAS GatekeeperRequest.
pub fn grq(ras: SocketAddrV4) -> Vec<u8> {
    let mut w = W::new();
    w.choice(0, 25, true);
    w.bit(false).bits(0, 4);
    w.cons(1, 1, 65535);
    w.oid(&H225_V4);
    ta(&mut w, ras);
    endpoint(&mut w);
    w.finish()
}
