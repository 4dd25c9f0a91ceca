//! `benches/run.sh` in quick mode produces a complete report.
//!
//! Runs the whole pipeline (criterion benches, huge-page variant, capacity probe, report
//! assembly) with `CGNAT_BENCH_QUICK=1` into a private directory, then checks that
//! `report.json` is a flat JSON object with every required metric numeric (including the
//! built-in generator's end-to-end numbers), and that the generator lost nothing.
//!
//! The JSON is read by the small flat-object parser below rather than `serde_json`: the report
//! is one flat object of strings, numbers, booleans and nulls, and a dev-dependency would only
//! add an edge to Cargo.lock for forty lines of code.
//!
//! The nested `cargo bench` uses the profile this test was built with, so under
//! `cargo test --release` it finds the bench binaries already built (they have `test = true`)
//! and only runs them; the whole test takes about 30 s on 2 cores.

use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// Parses a JSON object whose values are all scalars.
fn parse_flat(s: &str) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
    };
    p.ws();
    p.expect(b'{')?;
    let mut out = Vec::new();
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let k = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let v = p.value()?;
            out.push((k, v));
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                other => return Err(format!("expected , or }} at {}, got {other:?}", p.i)),
            }
        }
    }
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("trailing bytes at {}", p.i));
    }
    Ok(out)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.next() {
            Some(x) if x == c => Ok(()),
            other => Err(format!(
                "expected {:?} at {}, got {other:?}",
                c as char, self.i
            )),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut s = String::new();
        loop {
            match self.next().ok_or("unterminated string")? {
                b'"' => return Ok(s),
                b'\\' => match self.next().ok_or("bad escape")? {
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4).ok_or("bad \\u")?;
                        let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                        let c = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                        s.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                        self.i += 4;
                    }
                    b'n' => s.push('\n'),
                    b't' => s.push('\t'),
                    b'r' => s.push('\r'),
                    b'b' => s.push('\u{8}'),
                    b'f' => s.push('\u{c}'),
                    c => s.push(c as char),
                },
                _ => {
                    // Copy the whole UTF-8 sequence starting at the previous byte.
                    let start = self.i - 1;
                    let mut end = self.i;
                    while end < self.b.len() && (self.b[end] & 0xc0) == 0x80 {
                        end += 1;
                    }
                    s.push_str(
                        std::str::from_utf8(&self.b[start..end]).map_err(|e| e.to_string())?,
                    );
                    self.i = end;
                }
            }
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.peek().ok_or("missing value")? {
            b'"' => self.string().map(Value::Str),
            b'n' => self.word("null", Value::Null),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).map_err(|e| e.to_string())?;
                t.parse().map(Value::Num).map_err(|e| format!("{t}: {e}"))
            }
            c => Err(format!(
                "unexpected {:?} at {} (not a flat object?)",
                c as char, self.i
            )),
        }
    }
    fn word(&mut self, w: &str, v: Value) -> Result<Value, String> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }
}

#[test]
fn flat_parser_reads_scalars() {
    let v = parse_flat(r#"{"a": 1.5e3, "b": "x\"y", "c": null, "d": true, "e": -2}"#).unwrap();
    assert_eq!(v[0], ("a".into(), Value::Num(1500.0)));
    assert_eq!(v[1], ("b".into(), Value::Str("x\"y".into())));
    assert_eq!(v[2], ("c".into(), Value::Null));
    assert_eq!(v[3], ("d".into(), Value::Bool(true)));
    assert_eq!(v[4], ("e".into(), Value::Num(-2.0)));
    assert!(parse_flat(r#"{"a": {"b": 1}}"#).is_err());
}

#[test]
fn quick_run_writes_a_complete_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-quick");
    let _ = std::fs::remove_dir_all(&out);
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "bench"
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let run = Command::new("bash")
        .arg(root.join("benches/run.sh"))
        .current_dir(root)
        .env("CGNAT_BENCH_QUICK", "1")
        .env("CGNAT_BENCH_OUT", &out)
        .env("CGNAT_BENCH_PROFILE", profile)
        .env("CARGO", cargo)
        .env_remove("CGNAT_BENCH_16M")
        .env_remove("CGNAT_BENCH_NO_THP")
        .env_remove("CGNAT_CAPACITY_TARGET")
        .output()
        .expect("bash runs benches/run.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "run.sh failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    assert!(
        stdout.contains("nat_mpps_per_core_1m"),
        "table printed:\n{stdout}"
    );

    let text = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let report = parse_flat(&text).unwrap_or_else(|e| panic!("report.json: {e}\n{text}"));
    let get = |k: &str| {
        report
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("report.json has no {k}:\n{text}"))
    };
    for k in [
        "nat_mpps_per_core_10k",
        "nat_mpps_per_core_1m",
        "forward_mpps_per_core",
        "io_nat_mpps_per_core_10k",
        "nat_forward_ratio",
        "cps_per_core",
        "bytes_per_session",
        "max_sessions",
    ] {
        match get(k) {
            Value::Num(v) => assert!(v > 0.0, "{k} = {v}"),
            other => panic!("{k} is not a number: {other:?}"),
        }
    }
    for k in ["alg_ftp_mpps", "alg_sip_mpps"] {
        match get(k) {
            Value::Num(v) => assert!(v > 0.0, "{k} = {v}"),
            other => panic!("{k} is not a number: {other:?}"),
        }
    }
    // The generator's accounting: with no bottleneck dropping frames, every frame sent through
    // the worker came back (packets counted in equal packets counted out).
    assert_eq!(get("io_lost_nat_10k"), Value::Num(0.0));
    assert!(matches!(get("machine"), Value::Str(s) if s.contains("cores")));
    assert_eq!(get("quick"), Value::Bool(true));
}
