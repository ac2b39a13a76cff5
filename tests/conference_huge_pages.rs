//! A room puts the heap under its legs' state onto transparent huge pages
//! (`RoomConfig::with_huge_pages`, on by default) once `HUGE_PAGE_LEGS` legs have joined
//! since the last time, and never when it is off. Its own process: the count of collapsed
//! bytes is the process's.

use rvoip_media_core::conference::{LegMedia, Room, RoomConfig, HUGE_PAGE_LEGS};
use rvoip_media_core::engine::{heap_on_huge_pages, huge_pages_supported};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::G711Law;

/// Legs `from..to`, G.711 μ-law at 20 ms.
fn legs(from: usize, to: usize) -> Vec<(String, LegMedia)> {
    (from..to).map(|i| (format!("p{i}"), LegMedia::g711(G711Law::Ulaw, 20_000, i as u32))).collect()
}

/// A kernel room for `n` legs, with or without huge pages.
fn room(engine: &Engine, n: usize, huge: bool) -> Room {
    let cfg = RoomConfig::new(AudioFormat::mono(8000)).with_kernel().with_capacity(n).with_huge_pages(huge);
    Room::with_config(engine, cfg).unwrap()
}

#[test]
fn a_room_puts_its_legs_heap_on_huge_pages_after_enough_joins() {
    let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
    // Off: nothing, however many join.
    let mut off = room(&engine, 2000, false);
    off.join_many(&engine, legs(0, 2000)).unwrap();
    assert_eq!(heap_on_huge_pages(), 0);
    // On: not before HUGE_PAGE_LEGS have joined...
    let mut on = room(&engine, 2000, true);
    on.join_many(&engine, legs(0, HUGE_PAGE_LEGS - 1)).unwrap();
    assert_eq!(heap_on_huge_pages(), 0);
    // ...then the heap holding them (and the 2,000 legs before them: about 16 MiB).
    on.join_many(&engine, legs(HUGE_PAGE_LEGS - 1, 2000)).unwrap();
    if huge_pages_supported() {
        assert!(heap_on_huge_pages() >= 8 << 20, "{} bytes", heap_on_huge_pages());
    } else {
        assert_eq!(heap_on_huge_pages(), 0);
    }
    // The legs run as before.
    for _ in 0..5 {
        driver.process_cycle();
    }
    assert_eq!(on.members().count(), 2000);
    assert_eq!(engine.partition_stats(on.id()).unwrap().errors, 0);
}
