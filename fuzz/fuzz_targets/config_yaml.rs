//! `agents.yaml` loading and saving: `store::parse` on arbitrary bytes, and
//! for a config that loads, `render` then `parse` again. The same round
//! trip is checked one level down, on the raw YAML tree, which is what keeps
//! unknown keys intact across a save.
//!
//! Invariants: a config that loads can be rendered, and reads back equal;
//! rendering that again gives the same text. Equality falls back to the
//! `Debug` form because a `.nan` kept under an unknown key is not equal to
//! itself.

#![no_main]

use std::fmt::Debug;
use std::path::Path;

use agent_dispatch::config::{store, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("agents.yaml");
    if let Ok(config) = store::parse(path, data) {
        let text = store::render(path, &config).expect("a loaded config renders");
        let again = store::parse(path, text.as_bytes())
            .unwrap_or_else(|err| panic!("rendered config does not load: {err}\n{text}"));
        assert_same(&config, &again, &text);
        let text_again = store::render(path, &again).expect("a loaded config renders");
        assert_eq!(text, text_again, "rendering is not stable");
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tree) = yaml::parse(text) {
        let rendered = yaml::render(&tree).expect("a parsed tree renders");
        let again = yaml::parse(&rendered)
            .unwrap_or_else(|err| panic!("rendered YAML does not parse: {err}\n{rendered}"));
        assert_same(&tree, &again, &rendered);
    }
});

fn assert_same<T: PartialEq + Debug>(before: &T, after: &T, rendered: &str) {
    assert!(
        before == after || format!("{before:?}") == format!("{after:?}"),
        "changed by a round trip through\n{rendered}\nbefore: {before:?}\nafter: {after:?}"
    );
}
