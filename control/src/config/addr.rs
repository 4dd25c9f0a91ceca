//! IPv4 prefixes and address ranges as they are written in the config file.
//!
//! This module owns the string forms (`"100.64.0.1/10"`, `"203.0.113.0/24"`,
//! `"203.0.113.10-203.0.113.20"`), their parsing with one-line error messages, their serde
//! representation (always a string), and the small amount of interval arithmetic the pool needs
//! (merge, subtract, count) so that a pool can be sized and checked without expanding it.
//! It is separate from validation: a value here is well-formed, not necessarily sensible.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a prefix, range or address string could not be parsed.
///
/// Displays as one line, e.g. `invalid IPv4 prefix "100.64.0.1/33": prefix length must be 0..=32`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} \"{input}\": {reason}")]
pub struct AddrParseError {
    what: &'static str,
    input: String,
    reason: String,
}

impl AddrParseError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The problem alone, without the input (e.g. `prefix length must be 0..=32`).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Parses a dotted-quad IPv4 address, naming `what` in the error.
pub(crate) fn parse_ipv4(what: &'static str, s: &str) -> Result<Ipv4Addr, AddrParseError> {
    let t = s.trim();
    Ipv4Addr::from_str(t)
        .map_err(|_| AddrParseError::new(what, s, "expected a dotted-quad address like 192.0.2.1"))
}

/// The netmask of a prefix length, as a host-order `u32`. Lengths above 32 are treated as 32.
fn mask_of(len: u8) -> u32 {
    let len = u32::from(len.min(32));
    u32::MAX.checked_shl(32 - len).unwrap_or(0)
}

/// An IPv4 address with a prefix length, e.g. `100.64.0.1/10`.
///
/// For an interface address the host part is kept in [`addr`](Self::addr) (it is the
/// appliance's own address); [`network`](Self::network) gives the masked, on-link prefix.
/// For pool, exclusion and subscriber prefixes the validation requires the host bits to be
/// zero. Methods never panic, even on a hand-built value with `len > 32` (treated as 32);
/// [`Config::validate`](super::Config::validate) rejects such values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    /// The address as written (host bits are kept).
    pub addr: Ipv4Addr,
    /// The prefix length, `0..=32`.
    pub len: u8,
}

impl Ipv4Prefix {
    /// A prefix from an address and a length, or `None` if `len > 32`.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then_some(Self { addr, len })
    }

    /// The netmask as a host-order integer (e.g. `0xffc0_0000` for `/10`).
    pub fn mask(&self) -> u32 {
        mask_of(self.len)
    }

    /// The same prefix with the host bits cleared (`100.64.0.1/10` → `100.64.0.0/10`).
    pub fn network(&self) -> Ipv4Prefix {
        Ipv4Prefix {
            addr: Ipv4Addr::from(u32::from(self.addr) & self.mask()),
            len: self.len.min(32),
        }
    }

    /// The last address of the prefix (the directed broadcast address for a subnet).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// How many addresses the prefix covers (`2^(32-len)`; 1 for a `/32`).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.len.min(32)))
    }

    /// Whether `ip` lies inside the prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == (u32::from(self.addr) & self.mask())
    }

    /// Whether the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv4Prefix) -> bool {
        let m = self.mask() & other.mask();
        (u32::from(self.addr) & m) == (u32::from(other.addr) & m)
    }

    /// Whether the host bits are all zero (the prefix is written in network form).
    pub fn is_network(&self) -> bool {
        u32::from(self.addr) & !self.mask() == 0
    }

    /// The prefix as an inclusive host-order interval.
    pub(crate) fn interval(&self) -> (u32, u32) {
        let n = u32::from(self.addr) & self.mask();
        (n, n | !self.mask())
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = AddrParseError;

    /// Parses `a.b.c.d/len`; surrounding whitespace is ignored, the length is mandatory.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "IPv4 prefix";
        let t = s.trim();
        let Some((a, l)) = t.split_once('/') else {
            return Err(AddrParseError::new(
                WHAT,
                s,
                "expected address/length like 192.0.2.0/24",
            ));
        };
        let addr = Ipv4Addr::from_str(a)
            .map_err(|_| AddrParseError::new(WHAT, s, format!("\"{a}\" is not an IPv4 address")))?;
        if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddrParseError::new(
                WHAT,
                s,
                format!("prefix length \"{l}\" is not a number"),
            ));
        }
        let len = l
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= 32)
            .ok_or_else(|| AddrParseError::new(WHAT, s, "prefix length must be 0..=32"))?;
        Ok(Ipv4Prefix { addr, len })
    }
}

impl Serialize for Ipv4Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor::<Ipv4Prefix>::new(
            "an IPv4 prefix string like \"192.0.2.0/24\"",
        ))
    }
}

/// One entry of `pool.prefixes` or `pool.exclude`: a prefix, an inclusive range, or (written as
/// a bare address) a single address, which is stored as a `/32` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolEntry {
    /// `"203.0.113.0/24"`, or `"203.0.113.7"` stored as `203.0.113.7/32`.
    Prefix(Ipv4Prefix),
    /// `"203.0.113.10-203.0.113.20"`, both ends included, `first <= last`.
    Range {
        /// First address of the range.
        first: Ipv4Addr,
        /// Last address of the range (included).
        last: Ipv4Addr,
    },
}

impl PoolEntry {
    /// The first address covered (the network address of a prefix).
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.interval().0)
    }

    /// The last address covered.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.interval().1)
    }

    /// How many addresses the entry covers (0 for a hand-built range with `first > last`).
    pub fn size(&self) -> u64 {
        let (a, b) = self.interval();
        if a > b {
            0
        } else {
            u64::from(b - a) + 1
        }
    }

    /// Whether `ip` is covered by the entry.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let (a, b) = self.interval();
        (a..=b).contains(&u32::from(ip))
    }

    /// Whether the entry shares an address with `prefix`.
    pub fn overlaps_prefix(&self, prefix: &Ipv4Prefix) -> bool {
        intervals_overlap(self.interval(), prefix.interval())
    }

    /// The entry as an inclusive host-order interval.
    pub(crate) fn interval(&self) -> (u32, u32) {
        match self {
            PoolEntry::Prefix(p) => p.interval(),
            PoolEntry::Range { first, last } => (u32::from(*first), u32::from(*last)),
        }
    }
}

impl fmt::Display for PoolEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolEntry::Prefix(p) => p.fmt(f),
            PoolEntry::Range { first, last } => write!(f, "{first}-{last}"),
        }
    }
}

impl FromStr for PoolEntry {
    type Err = AddrParseError;

    /// Parses `a.b.c.d/len`, `a.b.c.d-e.f.g.h` or `a.b.c.d`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some((a, b)) = t.split_once('-') {
            const WHAT: &str = "IPv4 range";
            let parse = |x: &str| {
                let x = x.trim();
                Ipv4Addr::from_str(x).map_err(|_| {
                    AddrParseError::new(WHAT, s, format!("\"{x}\" is not an IPv4 address"))
                })
            };
            let (first, last) = (parse(a)?, parse(b)?);
            if first > last {
                return Err(AddrParseError::new(
                    WHAT,
                    s,
                    "the first address is after the last",
                ));
            }
            Ok(PoolEntry::Range { first, last })
        } else if t.contains('/') {
            Ipv4Prefix::from_str(s).map(PoolEntry::Prefix)
        } else {
            let addr = Ipv4Addr::from_str(t).map_err(|_| {
                AddrParseError::new(
                    "pool entry",
                    s,
                    "expected a prefix (a.b.c.d/n), a range (a.b.c.d-e.f.g.h) or an address",
                )
            })?;
            Ok(PoolEntry::Prefix(Ipv4Prefix { addr, len: 32 }))
        }
    }
}

impl Serialize for PoolEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PoolEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FromStrVisitor::<PoolEntry>::new(
            "an IPv4 prefix, range or address string",
        ))
    }
}

/// A serde visitor that accepts a string and parses it with `FromStr`, so that the parse error
/// (one line, naming the input) becomes the deserialization error.
struct FromStrVisitor<T> {
    expecting: &'static str,
    _t: std::marker::PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_str(v).map_err(E::custom)
    }
}

/// Serde helpers for `Option<Ipv4Addr>` fields (`next_hop`): a string in, a string out, and a
/// one-line error naming the bad input.
pub(crate) mod opt_ipv4 {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Ipv4Addr>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ipv4Addr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IPv4 address string like \"192.0.2.1\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ipv4Addr, E> {
                parse_ipv4("IPv4 address", v).map_err(E::custom)
            }
        }
        d.deserialize_str(V).map(Some)
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<Ipv4Addr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.collect_str(a),
            None => s.serialize_none(),
        }
    }
}

// ---- interval arithmetic over inclusive host-order ranges ----

/// Whether two inclusive intervals intersect.
pub(crate) fn intervals_overlap(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Sorts and merges overlapping or adjacent intervals; drops empty ones (`lo > hi`).
pub(crate) fn merge(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    v.retain(|&(a, b)| a <= b);
    v.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `keep` minus `remove`; both must be merged (sorted, disjoint). The result is merged.
pub(crate) fn subtract(keep: &[(u32, u32)], remove: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(mut a, b) in keep {
        let mut alive = true;
        for &(ra, rb) in remove {
            if rb < a || ra > b {
                continue;
            }
            if ra > a {
                out.push((a, ra - 1));
            }
            match rb.checked_add(1) {
                Some(next) if next <= b => a = next,
                _ => {
                    alive = false;
                    break;
                }
            }
        }
        if alive {
            out.push((a, b));
        }
    }
    out
}

/// Total number of addresses in a list of disjoint intervals.
pub(crate) fn count(v: &[(u32, u32)]) -> u64 {
    v.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ipv4Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_math() {
        let x = p("100.64.0.1/10");
        assert_eq!(x.addr, Ipv4Addr::new(100, 64, 0, 1));
        assert_eq!(x.network(), p("100.64.0.0/10"));
        assert_eq!(x.broadcast(), Ipv4Addr::new(100, 127, 255, 255));
        assert_eq!(x.size(), 1 << 22);
        assert!(x.contains(Ipv4Addr::new(100, 100, 1, 1)));
        assert!(!x.contains(Ipv4Addr::new(100, 128, 0, 0)));
        assert!(!x.is_network());
        assert!(x.network().is_network());
        assert!(x.overlaps(&p("100.65.0.0/16")));
        assert!(p("100.65.0.0/16").overlaps(&x));
        assert!(!x.overlaps(&p("100.128.0.0/9")));
        let all = p("0.0.0.0/0");
        assert_eq!(all.size(), 1 << 32);
        assert_eq!(all.mask(), 0);
        assert_eq!(all.broadcast(), Ipv4Addr::BROADCAST);
        assert!(all.overlaps(&x));
        let host = p("192.0.2.7/32");
        assert_eq!(host.size(), 1);
        assert_eq!(host.broadcast(), Ipv4Addr::new(192, 0, 2, 7));
        // Hand-built out-of-range length: no panic, treated as /32.
        let bad = Ipv4Prefix {
            addr: Ipv4Addr::new(192, 0, 2, 7),
            len: 99,
        };
        assert_eq!(bad.size(), 1);
        assert!(bad.contains(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 33), None);
    }

    #[test]
    fn prefix_parse_errors() {
        let e = |s: &str| s.parse::<Ipv4Prefix>().unwrap_err().to_string();
        assert_eq!(
            e("100.64.0.1/33"),
            "invalid IPv4 prefix \"100.64.0.1/33\": prefix length must be 0..=32"
        );
        assert_eq!(
            e("100.64.0.1"),
            "invalid IPv4 prefix \"100.64.0.1\": expected address/length like 192.0.2.0/24"
        );
        assert!(e("1.2.3/8").contains("\"1.2.3\" is not an IPv4 address"));
        assert!(e("1.2.3.4/+8").contains("prefix length \"+8\" is not a number"));
        assert!(e("1.2.3.4/").contains("is not a number"));
        assert!(e("1.2.3.4/999").contains("must be 0..=32"));
        assert_eq!(p(" 10.0.0.0/8 "), p("10.0.0.0/8"));
    }

    #[test]
    fn pool_entry_forms() {
        let e: PoolEntry = "203.0.113.10 - 203.0.113.20".parse().unwrap();
        assert_eq!(e.size(), 11);
        assert_eq!(e.to_string(), "203.0.113.10-203.0.113.20");
        let a: PoolEntry = "203.0.113.7".parse().unwrap();
        assert_eq!(a, PoolEntry::Prefix(p("203.0.113.7/32")));
        assert!("203.0.113.20-203.0.113.10"
            .parse::<PoolEntry>()
            .unwrap_err()
            .to_string()
            .contains("first address is after the last"));
        assert!("foo".parse::<PoolEntry>().is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(
            merge(vec![(5, 9), (1, 3), (4, 4), (20, 30)]),
            vec![(1, 9), (20, 30)]
        );
        assert_eq!(merge(vec![(0, u32::MAX), (7, 8)]), vec![(0, u32::MAX)]);
        assert_eq!(
            subtract(&[(0, 10)], &[(0, 0), (5, 6), (10, 10)]),
            vec![(1, 4), (7, 9)]
        );
        assert_eq!(subtract(&[(0, u32::MAX)], &[(0, u32::MAX)]), vec![]);
        assert_eq!(subtract(&[(1, 2)], &[(3, 4)]), vec![(1, 2)]);
        assert_eq!(count(&[(0, u32::MAX)]), 1 << 32);
    }
}
