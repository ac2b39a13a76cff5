//! Port-name interning for nodes with a variable number of ports.
//!
//! [`rvoip_media_graph::PortSpec`] names are `&'static str`. Nodes such as the mixer need
//! `in0 .. inN`; the names are generated once per index and kept for the life of the
//! process, so the memory used is bounded by the largest port count ever requested
//! (a few bytes per index), however many nodes are built.

use std::sync::Mutex;

static INPUTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
static OUTPUTS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
static VADS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
static HEARS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn intern(table: &Mutex<Vec<&'static str>>, prefix: &str, i: usize) -> &'static str {
    // Control side only (called from `spec`); a poisoned lock still holds valid names.
    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
    while t.len() <= i {
        let name = format!("{prefix}{}", t.len());
        t.push(Box::leak(name.into_boxed_str()));
    }
    t[i]
}

/// `"in{i}"`.
pub(crate) fn input_name(i: usize) -> &'static str {
    intern(&INPUTS, "in", i)
}

/// `"out{i}"`.
pub(crate) fn output_name(i: usize) -> &'static str {
    intern(&OUTPUTS, "out", i)
}

/// `"vad{i}"` (the conference mixer's speech-flag inputs).
pub(crate) fn vad_name(i: usize) -> &'static str {
    intern(&VADS, "vad", i)
}

/// `"hear{i}"` (the conference mixer's what-this-port-hears outputs).
pub(crate) fn hear_name(i: usize) -> &'static str {
    intern(&HEARS, "hear", i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_stable() {
        assert_eq!(super::input_name(3), "in3");
        assert_eq!(super::output_name(0), "out0");
        assert!(std::ptr::eq(super::input_name(3), super::input_name(3)));
    }
}
