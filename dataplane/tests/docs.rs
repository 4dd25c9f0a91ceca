//! Every counter is documented in docs/counters.md.

#[test]
fn every_counter_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/counters.md"))
        .expect("docs/counters.md exists");
    let c = dataplane::Counters::default();
    for (name, _) in c.iter() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/counters.md does not document {name}"
        );
    }
}
